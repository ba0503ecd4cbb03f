"""egml.sim.atlas."""
