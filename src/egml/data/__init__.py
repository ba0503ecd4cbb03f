"""egml.data."""
