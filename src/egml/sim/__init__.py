"""egml.sim: the synthetic e/γ generator (PHYSICS.md) and its ROOT output.

Entry points (imported lazily so that ``import egml.sim`` stays cheap):

- ``egml.sim.driver.generate(task, n, out, seed=..., workers=...)``: write a ROOT file (§7);
- ``egml.sim.default_data.ensure_dataset(task, split, n, seed=...)``: cached default data;
- ``python -m egml.sim task=photon_cnn n=1000000 out=photons.root``: the command line.
"""
