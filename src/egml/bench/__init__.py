"""egml benchmark suite (issue 11): speed, scale and physics figures for every task.

    python -m egml.bench --scale small|full|tiny [--device cpu|cuda] [--out DIR]

Sections: machine, generator, io, training, inference, memory, physics, peer. Every timed figure
is a :func:`~egml.bench.stats.summary` (median over repeats with min/max); every comparison is a
ratio of two figures measured in the same run (see benchmarks/README.md).
"""

from egml.bench.scales import SCALES, Scale

__all__ = ["SCALES", "Scale"]
