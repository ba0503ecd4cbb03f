"""egml.bench."""
