"""egml.sim.cms: the CMS ECAL-barrel merged-photon generator (T3, PHYSICS.md §4)."""

from egml.sim.cms.merged import MergedPhotonGenerator

__all__ = ["MergedPhotonGenerator"]
