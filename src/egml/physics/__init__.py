"""egml.physics."""
