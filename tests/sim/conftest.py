"""Shared fixtures of the sim tests: the toy generator (tests/sim/toy_generator.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Worker processes (spawn) unpickle "toy_generator:ToyGenerator" by module name: make it importable.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

TOY = "toy_generator:ToyGenerator"


@pytest.fixture
def toy_task() -> str:
    return TOY
