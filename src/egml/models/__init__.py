"""egml.models."""
