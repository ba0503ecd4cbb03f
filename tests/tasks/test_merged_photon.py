"""merged_photon: loss masks, working points on an independent sample, evaluation, CLI end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import uproot
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from egml.cli import CONFIG_DIR
from egml.errors import EgmlError
from egml.evaluation.roc import binomial_efficiency
from egml.models.resnet import ResNetTagger
from egml.run.config_check import validate
from egml.tasks.merged_eval import confusion_matrix, evaluate_merged_photon, fit_thresholds
from egml.tasks.merged_photon import MergedPhotonTask, input_set_name

MASSES = np.array([0.1, 0.2, 0.4, 0.6, 0.8, 1.0], np.float32)


def _task(mode: str = "binary", loss: str = "mse") -> MergedPhotonTask:
    model = ResNetTagger(
        ("SC_energy",), widths=(4,), blocks_per_stage=1, n_outputs=1 if mode == "binary" else 3
    )
    return MergedPhotonTask(model, mode=mode, loss=loss)


def _batch() -> dict[str, torch.Tensor]:
    return {
        "label": torch.tensor([0, 1, 1, 2, 2]),
        "A_mass": torch.tensor([0.0, 0.1, 0.2, 0.0, 0.0]),
        "weight": torch.tensor([1.0, 2.0, 1.0, 1.0, 0.5]),
    }


def test_loss_mask_drops_single_photons_in_binary_mode_and_untrained_masses_in_training() -> None:
    batch = _batch()
    assert _task().loss_mask(batch, "train").tolist() == [0, 1, 0, 1, 1]
    assert _task().loss_mask(batch, "test").tolist() == [0, 1, 1, 1, 1]
    assert _task("multiclass").loss_mask(batch, "val").tolist() == [1, 1, 0, 1, 1]


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_binary_loss_is_the_weighted_mean_over_used_candidates(loss: str) -> None:
    batch = _batch()
    logits = torch.tensor([[0.3], [1.0], [-2.0], [-0.5], [0.7]])
    p = torch.sigmoid(logits[:, 0])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0])
    per = (p - y) ** 2 if loss == "mse" else -(y * p.log() + (1 - y) * (1 - p).log())
    w = torch.tensor([0.0, 2.0, 0.0, 1.0, 0.5])
    expected = (per * w).sum() / w.sum()
    torch.testing.assert_close(_task(loss=loss).compute_loss(logits, batch, "train"), expected)


def test_multiclass_cross_entropy_and_scores() -> None:
    task = _task("multiclass")
    batch = _batch()
    logits = torch.tensor(
        [[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [1.0, 1.0, 1.0]]
    )
    w = torch.tensor([1.0, 2.0, 0.0, 1.0, 0.5])
    per = torch.nn.functional.cross_entropy(logits, batch["label"], reduction="none")
    torch.testing.assert_close(task.compute_loss(logits, batch, "train"), (per * w).sum() / w.sum())
    scores = task.scores(logits, batch)
    assert set(scores) == {"score_single_photon", "score_merged_photon", "score_qcd_fake"}
    total = scores["score_single_photon"] + scores["score_merged_photon"] + scores["score_qcd_fake"]
    torch.testing.assert_close(total, torch.ones(5))


def test_mass_balance_gives_each_training_mass_an_equal_share_of_the_signal_weight() -> None:
    model = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1)
    task = MergedPhotonTask(model, mass_balance=True)
    batch = {
        "label": torch.tensor([1, 1, 1, 1, 1, 2, 0]),
        "A_mass": torch.tensor([0.1, 0.1, 0.1, 0.4, 0.2, 0.0, 0.0]),
        "weight": torch.tensor([1.0, 1.0, 2.0, 0.5, 1.0, 3.0, 1.0]),
    }
    w = task.loss_mask(batch, "train") * batch["weight"]
    out = task.balance_masses(w, batch)
    assert out[:3].sum() == pytest.approx(out[3].item()) and out[:4].sum() == pytest.approx(
        w[:4].sum().item()
    )
    assert out[4:].tolist() == w[4:].tolist()  # untrained mass, background and single photons unchanged
    logits = torch.zeros(7, 1)
    assert task.compute_loss(logits, batch, "test") == _task().compute_loss(logits, batch, "test")


def test_bad_configuration() -> None:
    model = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1, n_outputs=1)
    with pytest.raises(ValueError, match="n_outputs=3"):
        MergedPhotonTask(model, mode="multiclass")
    with pytest.raises(ValueError, match=r"task\.module\.mode"):
        MergedPhotonTask(model, mode="ternary")
    with pytest.raises(ValueError, match=r"task\.module\.loss"):
        MergedPhotonTask(model, loss="hinge")


def test_working_point_thresholds_give_their_efficiency_on_an_independent_sample() -> None:
    rng = np.random.default_rng(5)
    fit_scores = rng.beta(5, 2, 20000)
    maps = fit_thresholds(fit_scores, np.ones(20000, bool), {"loose": 0.9, "medium": 0.8, "tight": 0.7}, "s")
    independent = rng.beta(5, 2, 20000)
    for wp, target in (("loose", 0.9), ("medium", 0.8), ("tight", 0.7)):
        eff, err = binomial_efficiency(independent >= maps[wp].inclusive_threshold)
        assert abs(eff - target) < 3.5 * np.hypot(err, np.sqrt(target * (1 - target) / 20000))


def _toy_predictions(n: int, seed: int, mode: str) -> dict[str, np.ndarray]:
    """A tagger whose separation is larger than the baseline's, flat in m_A."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n)
    sig = label == 1
    preds = {
        "label": label.astype(np.int32),
        "A_mass": np.where(sig, MASSES[rng.integers(0, 6, n)], 0).astype(np.float32),
        "pt": rng.uniform(15, 100, n).astype(np.float32),
        "eta": rng.uniform(-1.4, 1.4, n).astype(np.float32),
        "baseline_score": 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.0 * sig))),
        "baseline_retrained_score": 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.5 * sig))),
    }
    tagger = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.5 * sig)))
    if mode == "binary":
        preds["score_merged_photon"] = tagger
    else:
        logits = rng.normal(0, 1, (n, 3)) + 2.0 * np.eye(3)[label]
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        for i, name in enumerate(("single_photon", "merged_photon", "qcd_fake")):
            preds[f"score_{name}"] = p[:, i]
    return preds


@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_evaluation_metrics_and_decisions(tmp_path: Path, mode: str) -> None:
    preds = _toy_predictions(12000, 7, mode)
    m = evaluate_merged_photon(preds, tmp_path, mode=mode)
    for wp, target in (("loose", 0.9), ("medium", 0.8), ("tight", 0.7)):
        for p in ("test", "baseline", "baseline_retrained"):
            # measured on the half not used to fit: close to, not exactly, the target
            assert abs(m[f"{p}/eff_{wp}"] - target) < 4 * m[f"{p}/eff_{wp}_err"] + 1e-9
            assert m[f"{p}/sb_{wp}"] == pytest.approx(m[f"{p}/eff_{wp}"] / m[f"{p}/bkg_eff_{wp}"])
        ratio = m[f"test/sb_ratio_vs_baseline_{wp}"]
        assert ratio == pytest.approx(m[f"test/sb_{wp}"] / m[f"baseline/sb_{wp}"])
        retrained = m[f"test/sb_ratio_vs_retrained_bdt_{wp}"]
        assert retrained == pytest.approx(m[f"test/sb_{wp}"] / m[f"baseline_retrained/sb_{wp}"])
        assert retrained < ratio  # the re-trained BDT is the stronger baseline in this toy
        assert preds[f"baseline_wp_retrained_{wp}"].shape == (12000,)
        assert preds[f"wp_{wp}"].dtype == np.int32 and preds[f"baseline_wp_{wp}"].shape == (12000,)
    for mt in MASSES:
        assert 0.5 < m[f"test/auc_m{mt:.1f}"] <= 1.0
    assert "N_S = N_B" in m["test/sb_normalisation"] and "prompt" in m["test/baseline_definition"]
    assert m["test/eff_spread_medium"] < 0.05  # the toy tagger is flat in m_A
    effs = [m[f"test/eff_medium_m{mt:.1f}"] for mt in MASSES]
    assert m["test/eff_spread_medium"] == pytest.approx((max(effs) - min(effs)) / 2)
    assert m["test/eff_spread_medium"] <= m["test/eff_maxdev_medium"] <= 2 * m["test/eff_spread_medium"]
    if mode == "binary":
        assert m["test/sb_ratio_vs_baseline_medium"] > 1.5
        assert m["test/auc"] > m["baseline/auc"]
    else:
        assert m["test/confusion_qcd_fake_as_qcd_fake"] > 0.6
        assert (tmp_path / "plots" / "confusion_matrix.png").stat().st_size > 0
    assert json.loads((tmp_path / "working_points.json").read_text())["working_points"]["medium"]
    for plot in ("roc", "scores", "efficiency_vs_mA_medium", "sb_vs_mA"):
        assert (tmp_path / "plots" / f"{plot}.png").stat().st_size > 0


def test_confusion_matrix_rows_in_reference_order() -> None:
    label = np.array([0, 1, 2, 2, 1, 1])
    pred = np.array([0, 1, 2, 1, 0, 1])
    cm = confusion_matrix(label, pred, (2, 1, 0))
    np.testing.assert_allclose(cm, [[0.5, 0.5, 0], [0, 2 / 3, 1 / 3], [0, 0, 1]])


@pytest.mark.parametrize(
    ("experiment", "channels", "name"),
    [
        ("merged_photon_shower", ("SC_energy",), "shower"),
        ("merged_photon_track", ("TracksPt", "TracksDxy", "TracksDz"), "track"),
        ("merged_photon_shower_track", ("SC_energy", "TracksPt", "TracksDxy", "TracksDz"), "shower_track"),
    ],
)
def test_ablation_configs_give_resnets_of_each_channel_set(
    experiment: str, channels: tuple, name: str
) -> None:
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "config", overrides=["task=merged_photon", f"experiment={experiment}", "model.widths=[4]"]
        )
    validate(cfg)
    model = instantiate(cfg.model)
    assert model.channels == channels and model.input_transform == "log1p" and list(cfg.data.normalize) == []
    batch = {c: torch.zeros(2, 32, 32) for c in channels} | {f: torch.ones(2) for f in model.scalars}
    assert model(batch).shape == (2, 1)
    assert input_set_name(model.channels) == name
    assert model.scalars == tuple(cfg.model.scalars) and set(model.scalars) <= set(cfg.data.inputs)


def test_images_only_and_head_fields_must_be_inputs() -> None:
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        default = compose("config", overrides=["task=merged_photon"])
        images = compose("config", overrides=["task=merged_photon", "experiment=merged_photon_images_only"])
        bad = compose("config", overrides=["task=merged_photon", "data.inputs=[SC_energy,pt]"])
    validate(default)
    validate(images)
    assert "chgIso" in default.model.scalars and list(images.model.scalars) == []
    assert instantiate(images.model).channels == instantiate(default.model).channels
    with pytest.raises(EgmlError, match=r"'model\.scalars' names field 'eta', which is not in data\.inputs"):
        validate(bad)


def test_head_scalars_are_not_image_channels_and_change_the_output() -> None:
    torch.manual_seed(0)
    model = ResNetTagger(("SC_energy", "pt", "eta"), widths=(4,), scalars=("pt", "eta"), head_hidden=8).eval()
    assert model.channels == ("SC_energy",) and model.stem[0].in_channels == 1
    batch = {
        "SC_energy": torch.rand(3, 32, 32),
        "pt": torch.tensor([20.0, 50.0, 90.0]),
        "eta": torch.zeros(3),
    }
    out = model(batch)
    assert out.shape == (3, 1)
    assert not torch.allclose(out, model({**batch, "pt": torch.full((3,), 20.0)}))
    with pytest.raises(ValueError, match="lacks fields"):
        model({"SC_energy": batch["SC_energy"], "pt": batch["pt"]})


def test_reference_setup_stays_reachable() -> None:
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["task=merged_photon", "experiment=merged_photon_reference"])
    validate(cfg)
    assert list(cfg.data.normalize) == list(cfg.data.inputs) and cfg.model.input_transform == "none"
    assert list(cfg.model.scalars) == [] and cfg.model.head_hidden == 0  # images only
    assert cfg.data.reweight.target == "flat" and cfg.task.baseline.reweight.target == "flat"
    assert cfg.task.module.scheduler is None and cfg.task.module.loss == "mse"


# --- end to end through the CLI -------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("merged_photon_cache")


def _run(cache: Path, run_dir: Path, *extra: str) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "egml",
        "task=merged_photon",
        "trainer=debug",
        "logger=csv",
        "callbacks.progress_bar=none",
        f"hydra.run.dir={run_dir}",
        f"paths.cache_dir={cache}",
        "data.synthetic.n_train=500",
        "data.synthetic.n_val=200",
        "data.synthetic.n_test=600",
        "model.widths=[4,8]",
        "model.blocks_per_stage=1",
        "task.baseline.n_estimators=10",
        "task.module.evaluation.min_signal=5",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_cli_end_to_end(cache_dir: Path, tmp_path: Path, mode: str) -> None:
    run_dir = tmp_path / "run"
    extra = ["experiment=merged_photon_multiclass"] if mode == "multiclass" else []
    m = _run(cache_dir, run_dir, *extra)
    for wp in ("loose", "medium", "tight"):
        assert np.isfinite(m[f"test/sb_ratio_vs_baseline_{wp}"]) and np.isfinite(m[f"baseline/sb_{wp}"])
    assert np.isfinite(m["test/eff_spread_medium"])
    assert {f"test/auc_m{mt:.1f}" for mt in MASSES} <= set(m)  # untrained masses are in the test sample
    assert m["test/input_set"] == "shower_track"
    with uproot.open(run_dir / "predictions.root") as f:
        tree = f["predictions"]
        assert tree.classname == "TTree"
        branches = set(tree.keys())
        arrays = tree.arrays(["A_mass", "label"], library="np")
    wanted = {
        "score_merged_photon",
        "label",
        "A_mass",
        "pt",
        "eta",
        "baseline_score",
        "baseline_retrained_score",
        "baseline_wp_retrained_medium",
        "wp_medium",
        "baseline_wp_tight",
    }
    assert wanted <= branches
    if mode == "multiclass":
        assert {"score_single_photon", "score_qcd_fake", "predicted_class"} <= branches
        rows = [
            sum(m[f"test/confusion_{t}_as_{p}"] for p in ("qcd_fake", "merged_photon", "single_photon"))
            for t in ("qcd_fake", "merged_photon", "single_photon")
        ]
        np.testing.assert_allclose(rows, 1.0)
    sig_masses = np.unique(np.round(arrays["A_mass"][arrays["label"] == 1], 3))
    np.testing.assert_allclose(sig_masses, MASSES, atol=1e-3)
    assert (run_dir / "baseline" / "photon_id_bdt.json").exists()
    assert (run_dir / "baseline" / "photon_id_bdt_retrained.json").exists()
    assert np.isfinite(m["test/sb_ratio_vs_retrained_bdt_medium"])
    assert (run_dir / "working_points.json").exists()
