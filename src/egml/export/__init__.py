"""egml.export."""
