"""egml.tasks."""
