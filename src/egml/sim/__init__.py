"""egml.sim."""
