"""Generation driver, RNG blocks, registry and CLI, with the toy generator (tests/sim/toy_generator.py)."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from toy_generator import ToyGenerator, reference_columns

from egml.sim import registry
from egml.sim.__main__ import main, parse_args
from egml.sim.base import BLOCK_SIZE, GenConfig, Shift
from egml.sim.driver import generate, generate_columns
from egml.sim.rng import block_rng, split_seed

TOY = "toy_generator:ToyGenerator"
N = 7000  # needs 3 blocks at the toy's 70 % acceptance, not a multiple of anything


def _read(path: Path) -> tuple[dict[str, ak.Array], dict]:
    with uproot.open(path) as f:
        return dict(zip(f["toy/Tree"].keys(), ak.unzip(f["toy/Tree"].arrays()))), json.loads(
            str(f["gen_config"])
        )


def test_block_rng_is_the_rule5_stream() -> None:
    seq = np.random.SeedSequence(entropy=42, spawn_key=(3, 17))
    expected = np.random.Generator(np.random.PCG64(seq)).random(8)
    assert np.array_equal(block_rng(42, 3, 17).random(8), expected)
    assert not np.array_equal(block_rng(42, 3, 18).random(8), expected)
    assert not np.array_equal(block_rng(42, 4, 17).random(8), expected)
    with pytest.raises(ValueError, match="non-negative"):
        block_rng(-1, 0, 0)


def test_split_seeds_are_distinct_and_stable() -> None:
    seeds = {s: split_seed(5, s) for s in ("train", "val", "test", "calib")}
    assert len(set(seeds.values())) == 4
    assert split_seed(5, "train") == seeds["train"] and split_seed(6, "train") != seeds["train"]


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(TOY, N, tmp_path_factory.mktemp("ref") / "ref.root", seed=3, chunk_blocks=1, workers=1)


def test_output_matches_the_block_formula(reference_file: Path) -> None:
    """The file holds exactly the first N accepted candidates of blocks 0, 1, 2, … (rule 5)."""
    got, meta = _read(reference_file)
    ref = reference_columns(3, N)
    assert len(got["y_pt"]) == N
    assert np.array_equal(got["y_img"].to_numpy(), ref["y_img"])
    assert np.array_equal(got["evt_eventNo"].to_numpy(), ref["evt_eventNo"])
    assert np.array_equal(got["ncells"].to_numpy(), ak.to_numpy(ak.num(ref["cells"])))
    assert ak.array_equal(got["cells_e"], ref["cells"]["e"])
    assert meta["seeds"] == {"master": 3, "detector_seed": 2026, "task_id": 99, "block_size": BLOCK_SIZE}


@pytest.mark.parametrize(
    ("workers", "chunk_blocks", "start_method"),
    [(1, 3, "spawn"), (2, 1, "spawn"), (2, 3, "fork")],
)
def test_output_independent_of_chunks_and_workers(
    reference_file: Path, tmp_path: Path, workers: int, chunk_blocks: int, start_method: str
) -> None:
    path = generate(
        TOY,
        N,
        tmp_path / "x.root",
        seed=3,
        chunk_blocks=chunk_blocks,
        workers=workers,
        start_method=start_method,
    )
    got, meta = _read(path)
    ref, ref_meta = _read(reference_file)
    assert list(got) == list(ref)
    for name in ref:
        assert ak.array_equal(got[name], ref[name]), name
    assert meta == ref_meta


def test_metadata_section6(reference_file: Path) -> None:
    got, meta = _read(reference_file)
    assert meta["task"] == "toy" and meta["tree"] == "toy/Tree" and meta["generator_version"] == "toy-1"
    assert meta["knobs"] == {"accept": 0.7} and meta["axis_order"] == {"y_img": ["phi", "eta"]}
    assert meta["shift"]["name"] == "nominal" and meta["compression"] == "LZ4(1)"
    assert set(meta["units"]) == set(got) and meta["units"]["cells_e"] == "GeV"
    assert len(meta["config_hash"]) == 64
    hashes = got["gen_config_hash"].to_numpy()
    assert np.all(hashes == int(meta["config_hash"][:15], 16))


def test_seed_shift_and_knobs_change_the_output() -> None:
    base = generate_columns(TOY, 500, seed=1)
    assert np.array_equal(base["y_pt"], generate_columns(TOY, 500, seed=1)["y_pt"])
    assert not np.array_equal(base["y_pt"], generate_columns(TOY, 500, seed=2)["y_pt"])
    noisy = generate_columns(TOY, 500, seed=1, shift="noise")
    assert np.array_equal(noisy["y_pt"], base["y_pt"])  # same candidates (fixed-shape draws) ...
    assert noisy["y_img"].std() > base["y_img"].std()  # ... seen through 10 % more noise
    assert len(generate_columns(TOY, 5000, seed=1, knobs={"accept": 0.9})["y_pt"]) == 5000
    other_detector = generate_columns(TOY, 500, seed=1, detector_seed=7)
    assert np.array_equal(other_detector["y_pt"], base["y_pt"])
    assert not np.array_equal(other_detector["y_img"], base["y_img"])


def test_failure_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="toy generator failure"):
        generate(TOY, N, tmp_path / "f.root", seed=1, chunk_blocks=1, knobs={"fail_after": 1})
    assert not list(tmp_path.iterdir())


def test_zero_acceptance_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no candidate accepted"):
        generate(TOY, 10, tmp_path / "z.root", chunk_blocks=16, knobs={"accept": 0.0})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"workers": 0}, "workers must be"),
        ({"chunk_blocks": 0}, "chunk_blocks must be"),
        ({"seed": -3}, "seed must be a non-negative"),
        ({"shift": "gravity"}, "unknown shift"),
        ({"shift": {"noize": 1.1}}, "unknown shift field"),
        ({"task": "photon"}, "unknown task 'photon'"),
        ({"task": "egml.sim.nonexistent:Gen"}, "is not available"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"task": TOY, "n": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate(args.pop("task"), args.pop("n"), tmp_path / "b.root", **args)


def test_registry() -> None:
    assert registry.task_names() == ["electron_dnn", "energy_regression", "merged_photon", "photon_cnn"]
    assert registry.import_path("merged_photon") == "egml.sim.cms.merged:MergedPhotonGenerator"
    assert registry.generator_class(TOY) is ToyGenerator
    assert registry.import_path(ToyGenerator) == TOY
    assert not registry.is_available("no_such_pkg.mod:Gen")
    with pytest.raises(ValueError, match="has no 'Nope'"):
        registry.generator_class("toy_generator:Nope")


def test_shift_presets() -> None:
    assert Shift.coerce("material") == Shift(material=1.05) and Shift.coerce(None).is_nominal
    assert Shift.coerce({"noise": 1.2}).label() == "noise=1.2"
    assert Shift.named("pileup").mu_offset == 10.0
    assert GenConfig().to_dict()["shift"]["noise"] == 1.0


def test_cli_writes_the_same_file(
    reference_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cli.root"
    assert main([f"task={TOY}", "n=7e3", f"out={out}", "seed=3", "chunk_blocks=2", "progress=false"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    got, _ = _read(out)
    ref, _ = _read(reference_file)
    assert all(ak.array_equal(got[k], ref[k]) for k in ref)


def test_cli_parsing_and_errors(capsys: pytest.CaptureFixture) -> None:
    kwargs = parse_args(
        ["task=photon_cnn", "n=1_000_000", "out=a.root", "knobs.k_T_long=1.2", "shift.noise=1.1"]
    )
    assert kwargs == {
        "task": "photon_cnn",
        "n": 1_000_000,
        "out": "a.root",
        "knobs": {"k_T_long": 1.2},
        "shift": {"noise": 1.1},
    }
    assert main(["--help"]) == 0 and "photon_cnn" in capsys.readouterr().out
    for argv, match in [
        (["task=toy", "n=10"], "missing required argument(s) out="),
        (["task=x", "n=ten", "out=a"], "n='ten': expected an integer"),
        (["task=x", "n=1", "out=a", "colour=red"], "unknown key 'colour'"),
        (["task=x", "n=1", "out=a", "nonsense"], "expected key=value"),
        (["task=photon", "n=1", "out=a.root"], "unknown task 'photon'"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and match in err, err
