"""egml.losses."""
