"""energy_regression end to end on a toy CaloCalib file: features, padding invariance, every loss via the CLI.

The toy (no calorimeter physics, seconds to write) has the T4 branches of PHYSICS.md §7 and one
physical handle: a fraction ℓ of the energy is lost upstream, and the presampler sees a part of it,
so E0/E_acc predicts the correction, as for the real calibration.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from egml.models.cell_transformer import CellTransformer
from egml.models.deep_sets import DeepSets
from egml.sim.writer import write_root
from egml.tasks.energy_regression import (
    DERIVED,
    ETA_ANNOTATIONS,
    EnergyRegressionTask,
    check_model_fields,
    derive_features,
    keep_leading_cells,
)

CELLS = ("cell_frac", "cell_E_over_layer", "cell_deta", "cell_dphi", "cell_x", "cell_y", "cell_z")
CLUSTER = ("log_E_cluster", "eta", "abs_eta", "f0", "f1", "f2", "f3", "R12", "R0_acc")
LAYER_PATTERN = np.array([0, 1, 2, 2, 3, 1, 2, 2, 0, 2, 1, 2, 3, 2, 2, 1])  # layer id of cell slot k


def toy_columns(n: int, seed: int, types: tuple[int, ...] = (1,)) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    e_true = np.exp(rng.uniform(np.log(10.0), np.log(400.0), n))
    eta = rng.uniform(-2.4, 2.4, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    loss = (0.02 + 0.03 * np.abs(eta)) * rng.exponential(1.0, n)  # upstream loss fraction ℓ
    e_ps = 0.6 * loss * e_true * (1 + 0.1 * rng.standard_normal(n))  # the PS sees part of it
    e_acc = (1 - loss) * e_true * (1 + 0.02 * rng.standard_normal(n))
    ncells = rng.integers(6, len(LAYER_PATTERN) + 1, n)
    cand = np.repeat(np.arange(n), ncells)
    slot = np.arange(cand.size) - np.repeat(np.cumsum(ncells) - ncells, ncells)
    layer = LAYER_PATTERN[slot]
    w = rng.uniform(0.2, 1.0, cand.size)
    is_ps = layer == 0
    w_sum_ps = np.bincount(cand, w * is_ps, n)
    w_sum_acc = np.bincount(cand, w * ~is_ps, n)
    cell_e = np.where(is_ps, e_ps[cand] * w / w_sum_ps[cand], e_acc[cand] * w / w_sum_acc[cand])
    layer_sum = np.stack([np.bincount(cand, cell_e * (layer == k), n) for k in range(5)])
    deta, dphi = 0.025 * rng.standard_normal(cand.size), 0.025 * rng.standard_normal(cand.size)
    r = 1500.0 + 100 * layer
    ptype = rng.choice(np.asarray(types), n)
    f32 = np.float32
    jag = {
        "cell_E": cell_e,
        "cell_E_over_layer": cell_e / layer_sum[layer, cand],
        "cell_eta": eta[cand] + deta,
        "cell_phi": phi[cand] + dphi,
        "cell_x": r * np.cos(phi[cand] + dphi),
        "cell_y": r * np.sin(phi[cand] + dphi),
        "cell_z": r * np.sinh(eta[cand] + deta),
        "cell_sigma": np.full(cand.size, 0.05),
    }
    cols: dict[str, object] = {k: ak.unflatten(v.astype(f32), ncells) for k, v in jag.items()}
    cols["cell_layer"] = ak.unflatten(layer.astype(np.int32), ncells)
    cols["ncells"] = ncells.astype(np.int32)
    converted = ptype == 2
    cols.update(
        {
            "cl_E": np.bincount(cand, cell_e, n).astype(f32),
            **{f"cl_E{k}": layer_sum[k].astype(f32) for k in range(4)},
            "cl_E_TileGap3": np.zeros(n, f32),
            "cl_eta": eta.astype(f32),
            "cl_phi": phi.astype(f32),
            "cl_etaCalo": eta.astype(f32),
            "cl_phiCalo": phi.astype(f32),
            "convR": np.where(converted, rng.uniform(50, 800, n), 0).astype(f32),
            "convEtOverPt": np.where(converted, rng.uniform(0.5, 2, n), 0).astype(f32),
            "convPtRatio": np.where(converted, rng.uniform(0, 1, n), 0).astype(f32),
            "convType": np.where(converted, 1, 0).astype(np.int32),
            "particleType": ptype.astype(np.int32),
            "mu": rng.gamma(8.0, 51.0 / 8.0, n).astype(f32),
            "truth_E": e_true.astype(f32),
            "gen_sigmaO1": (0.1 * np.sqrt(e_true)).astype(f32),
            "evt_runNo": np.full(n, 410000, np.int32),
            "evt_eventNo": (seed * 10**6 + np.arange(n)).astype(np.int64),
        }
    )
    return cols


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("toy_calocalib")
    sizes = {"train": 1500, "val": 300, "test": 1200}
    return {
        split: write_root(
            d / f"{split}.root", "CaloCalib", toy_columns(n, i + 1, (1, 2)), counters={"cell": "ncells"}
        )
        for i, (split, n) in enumerate(sizes.items())
    }


def _batch(n: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    cols = toy_columns(n, seed)
    width = int(np.max(cols["ncells"]))
    batch: dict[str, torch.Tensor] = {}
    mask = np.arange(width)[None, :] < np.asarray(cols["ncells"])[:, None]
    names = {"E_cluster": "cl_E", "eta": "cl_eta", "eta_calo": "cl_etaCalo", "phi_calo": "cl_phiCalo",
             "E0": "cl_E0", "E1": "cl_E1", "E2": "cl_E2", "E3": "cl_E3", "E_TG3": "cl_E_TileGap3",
             "particle_type": "particleType", "E_true": "truth_E"}  # fmt: skip
    for name, branch in names.items():
        batch[name] = torch.as_tensor(np.asarray(cols[branch]))
    for name in (
        "cell_E",
        "cell_E_over_layer",
        "cell_eta",
        "cell_phi",
        "cell_x",
        "cell_y",
        "cell_z",
        "cell_layer",
    ):
        padded = ak.to_numpy(ak.fill_none(ak.pad_none(cols[name], width, clip=True), 0))
        batch[name] = torch.as_tensor(padded)
    batch["cell_E_mask"] = torch.as_tensor(mask)
    return batch


def _pad(batch: dict[str, torch.Tensor], extra: int, value: float) -> dict[str, torch.Tensor]:
    out = dict(batch)
    for name, t in batch.items():
        if t.dim() == 2:
            fill = (
                torch.zeros((t.shape[0], extra), dtype=t.dtype)
                if t.dtype == torch.bool
                else torch.full((t.shape[0], extra), value).to(t.dtype)
            )
            out[name] = torch.cat([t, fill], dim=1)
    return out


@pytest.mark.parametrize("model_cls", [CellTransformer, DeepSets])
@pytest.mark.parametrize("max_cells", [None, 8])
def test_padding_does_not_change_the_task_prediction(model_cls: type, max_cells: int | None) -> None:
    torch.manual_seed(0)
    model = model_cls(cell_fields=CELLS, cluster_fields=CLUSTER, mask_field="cell_E_mask", output="gaussian",
                      **({"n_blocks": 1, "embed_dim": 16, "ff_dim": 32} if model_cls is CellTransformer else {}))  # fmt: skip
    task = EnergyRegressionTask(model, loss="gaussian", max_cells=max_cells).eval()
    batch = _batch()
    with torch.no_grad():
        ref = task(batch)
        for value in (0.0, 123.0, -5.0):  # whatever the data layer pads with
            torch.testing.assert_close(task(_pad(batch, 7, value)), ref, rtol=1e-5, atol=1e-5)


def test_derived_features_and_leading_cells() -> None:
    batch = _batch(4, seed=3)
    feats = derive_features(batch, (*CELLS, *CLUSTER, "R_TG3_acc", "is_converted", *ETA_ANNOTATIONS))
    mask = batch["cell_E_mask"]
    frac_sum = torch.where(mask, feats["cell_frac"], 0).sum(1)
    torch.testing.assert_close(frac_sum, torch.ones(4), rtol=1e-5, atol=1e-5)  # cells sum to the cluster
    acc = batch["E1"] + batch["E2"] + batch["E3"]
    torch.testing.assert_close(feats["R0_acc"], batch["E0"] / acc)
    ann = torch.stack([feats[a] for a in ETA_ANNOTATIONS], 1)
    assert ann.shape == (4, 12) and float(ann.abs().max()) <= 1.0
    kept = keep_leading_cells(dict(batch), "cell_E_mask", 3)
    assert kept["cell_E"].shape == (4, 3) and bool(kept["cell_E_mask"].all())
    top = torch.where(mask, batch["cell_E"], -torch.inf).topk(3, dim=1).values
    torch.testing.assert_close(kept["cell_E"], top)


def test_model_fields_must_come_from_inputs() -> None:
    check_model_fields(["cell_frac", "log_E_cluster", "cell_E_mask"], ["cell_E", "E_cluster"])
    with pytest.raises(ValueError, match="E_true"):
        check_model_fields(["E_true"], ["cell_E", "E_cluster"])
    with pytest.raises(ValueError, match="eta_calo"):
        check_model_fields(["cell_deta"], ["cell_eta"])
    assert set(DERIVED) >= {"cell_frac", "R12", *ETA_ANNOTATIONS}
    with pytest.raises(ValueError, match="model outputs"):
        EnergyRegressionTask(
            DeepSets(cell_fields=CELLS, cluster_fields=CLUSTER, output="point"), loss="gaussian"
        )


def _overrides(files: dict[str, Path], run_dir: Path, cache: Path) -> list[str]:
    return [
        "task=energy_regression",
        "trainer=debug",
        f"data.train_files=[{files['train']}]",
        f"data.val_files=[{files['val']}]",
        f"data.test_files=[{files['test']}]",
        "data.selection=null",
        "data.batch_size=64",
        "task.module.norm_batches=4",
        "task.module.evaluation.min_bin_entries=50",
        "task.module.evaluation.e_edges=[0,60,1000]",
        "task.module.evaluation.abs_eta_edges=[0,1.2,2.5]",
        "task.module.median_correction.e_edges=[0,60,1000]",
        "task.module.median_correction.abs_eta_edges=[0,1.2,2.5]",
        "task.module.median_correction.min_entries=20",
        "task.baseline.n_estimators=60",
        "task.baseline.n_jobs=1",
        f"hydra.run.dir={run_dir}",
        f"paths.output_dir={run_dir}",
        f"paths.cache_dir={cache}",
        "logger=csv",
        "callbacks.progress_bar=none",
    ]


SMALL_TRANSFORMER = ["model.embed_dim=16", "model.n_blocks=1", "model.ff_dim=32", "model.head_widths=[32]"]


@pytest.mark.parametrize(
    ("extra", "sigma_branches"),
    [
        ([*SMALL_TRANSFORMER, "experiment=energy_regression_converted"], ()),
        ([*SMALL_TRANSFORMER, "experiment=energy_regression_gaussian"], ("sigma_pred",)),
        ([*SMALL_TRANSFORMER, "experiment=energy_regression_truncated"], ("sigma_pred",)),
        (["experiment=energy_regression_deep_sets", "model.output=asymmetric", "task.module.loss=asymmetric"],
         ("sigma_low_pred", "sigma_high_pred")),
        (["experiment=energy_regression_deep_sets", "model.output=asymmetric",
          "task.module.loss=asymmetric_truncated"], ("sigma_low_pred", "sigma_high_pred")),
    ],
    ids=["mse_transformer_conv", "gaussian", "truncated", "asymmetric_deep_sets", "asymmetric_truncated"],
)  # fmt: skip
def test_cli_run_per_loss(
    toy_files: dict[str, Path], tmp_path: Path, run_egml, extra: list[str], sigma_branches: tuple
) -> None:
    run_dir = tmp_path / "run"
    overrides = [*_overrides(toy_files, run_dir, tmp_path / "cache"), *extra]
    if "mse_transformer" in str(extra) or extra[-1].endswith("converted"):  # one through the real CLI
        cmd = [sys.executable, "-m", "egml", *overrides]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    else:  # the others in-process through the same config tree (no interpreter start-up)
        run_egml(overrides)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert np.isfinite(metrics["test/loss"])
    assert np.isfinite(metrics["test/iqr_ratio_vs_gbdt"]) and metrics["test/n_bins_used"] >= 1
    assert np.isfinite(metrics["test/max_abs_median_bias"])
    assert metrics["baseline/inclusive_iqr_resolution"] < metrics["test/raw_inclusive_iqr_resolution"]
    if sigma_branches:
        assert 0.0 <= metrics["test/coverage68"] <= 1.0 and metrics["test/pull_width"] > 0
    with uproot.open(run_dir / "predictions.root") as f:
        tree = f["predictions"]
        assert tree.classname == "TTree"
        wanted = {
            "E_pred",
            "r_pred",
            "E_cluster",
            "E_true",
            "E_gbdt",
            "particle_type",
            "eta",
            "mu",
            *sigma_branches,
        }
        assert wanted <= set(tree.keys())
        arr = tree.arrays(["E_pred", "E_cluster", "r_pred"], library="np")
        np.testing.assert_allclose(arr["E_pred"], arr["r_pred"] * arr["E_cluster"], rtol=1e-5)
        assert tree.num_entries == 1200
    table = json.loads((run_dir / "resolution_bins.json").read_text())
    assert any(row["n"] > 0 and row.get("net_over_oracle") is not None for row in table["bins"])
    for plot in (
        "response_type1",
        "resolution_vs_E_true_type1",
        "resolution_vs_abs_eta_type2",
        "resolution_vs_mu",
    ):
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 0
    assert (run_dir / "baseline" / "calibration_bdt.json").exists()
    # the residual median correction (on by default) was fitted on validation and saved with the weights
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)[
        "state_dict"
    ]
    assert bool(state["median_correction.fitted"]) and state["median_correction.table"].shape == (2, 2)
    assert float((state["median_correction.table"] - 1).abs().max()) > 0  # some bin was corrected
