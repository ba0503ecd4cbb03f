"""egml.run: the stages of a run (train, eval, predict, export) and their outputs."""
