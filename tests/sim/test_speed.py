"""``python -m egml.sim.speed``: CPU-time throughput of whole RNG blocks (no timing asserted)."""

from __future__ import annotations

import pytest

from egml.sim import speed

TOY = "toy_generator:ToyGenerator"  # importable through tests/sim/conftest.py


def test_candidates_per_second_runs_whole_blocks() -> None:
    rate = speed.candidates_per_second(TOY, blocks=1)
    assert 0 < rate < float("inf")


def test_bad_block_count() -> None:
    with pytest.raises(ValueError, match="--blocks"):
        speed.candidates_per_second(TOY, blocks=0)


def test_main_prints_one_line_per_task(capsys: pytest.CaptureFixture[str]) -> None:
    speed.main([TOY, "--blocks", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(TOY) and "candidates/s/core" in out[0]
