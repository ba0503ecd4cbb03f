"""egml.evaluation."""
