"""egml.baselines."""
