"""stage=export for every task and model variant: ONNX parity with PyTorch on real inputs.

The network is freshly initialised (parity is a property of the graph, not of training) and
saved as a checkpoint inside a run dir with the composed config, exactly what training leaves;
the input normalisation is set to non-trivial statistics so that it is inside the graph.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from egml.cli import CONFIG_DIR

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

TASKS = ("photon_cnn", "electron_dnn", "merged_photon", "energy_regression")
N_ENTRIES = 64
#: every experiment that changes the network (heads, outputs, inputs, architecture); exported with
#: narrow layers (parity is a property of the graph's operations, not of its width)
VARIANTS = {
    "photon_cnn_layer_split": "photon_cnn",
    "photon_cnn_disco": "photon_cnn",
    "photon_cnn_reference": "photon_cnn",
    "electron_dnn_cf_extras": "electron_dnn",
    "merged_photon_multiclass": "merged_photon",
    "merged_photon_shower": "merged_photon",
    "merged_photon_track": "merged_photon",
    "merged_photon_reference": "merged_photon",
    "merged_photon_images_only": "merged_photon",
    "energy_regression_deep_sets": "energy_regression",
    "energy_regression_gaussian": "energy_regression",
    "energy_regression_asymmetric": "energy_regression",
    "energy_regression_eta_annotation": "energy_regression",
    "energy_regression_all_types": "energy_regression",
    "energy_regression_converted": "energy_regression",
}
#: experiments whose network is one of the above (only the loss, data or evaluation differ)
SAME_NETWORK = {
    "electron_dnn_scan": "evaluation only",
    "energy_regression_truncated": "the network of energy_regression_gaussian",
    "energy_regression_electron": "data only",
    "merged_photon_shower_track": "the default merged_photon inputs",
}
NARROW = {
    "photon_cnn": ["model.conv_filters=[4,4]", "model.dense_widths=[8]"],
    "electron_dnn": ["model.depth=2", "model.width=16"],
    "merged_photon": ["model.widths=[4,8]", "model.blocks_per_stage=1"],
    "energy_regression": ["model.head_widths=[16]", "model.embed_dim=16", "model.n_heads=2", "model.n_blocks=1",
                          "model.ff_dim=16"],
    "energy_regression_deep_sets": ["model.phi_widths=[8]", "model.latent_dim=8", "model.rho_widths=[8]"],
}  # fmt: skip


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=overrides)


def fake_run(task: str, run_dir: Path, cache: Path, overrides: tuple[str, ...] = ()) -> Path:
    """A run dir with config.yaml and a checkpoint of an untrained model (weights_only-loadable)."""
    from hydra.utils import instantiate

    from egml.tasks.registry import task_class

    cfg = _compose([f"task={task}", f"paths.cache_dir={cache}", f"paths.output_dir={run_dir}", *overrides])
    torch.manual_seed(0)
    stats = {f: {"mean": 0.25, "std": 1.5} for f in cfg.data.normalize}
    module = OmegaConf.to_container(cfg.task.module, resolve=True)
    model = task_class(task)(model=instantiate(cfg.model), normalization=stats, **module)
    ckpt: dict = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(ckpt)
    (run_dir / "checkpoints").mkdir(parents=True)
    torch.save(ckpt, run_dir / "checkpoints" / "best.ckpt")
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=False))
    return run_dir


def test_every_experiment_is_covered() -> None:
    experiments = {p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml")}
    assert experiments == set(VARIANTS) | set(SAME_NETWORK)


CASES = [(task, None) for task in TASKS] + [(task, exp) for exp, task in VARIANTS.items()]


@pytest.mark.parametrize(("task", "experiment"), CASES, ids=[e or t for t, e in CASES])
def test_export_parity(task: str, experiment: str | None, egml_cache: Path, tmp_path: Path, run_egml) -> None:
    from egml.sim.default_data import ensure_dataset

    sample = ensure_dataset(task, "test", N_ENTRIES, seed=3, cache_dir=egml_cache / "data")
    overrides = (
        () if experiment is None else (f"experiment={experiment}", *NARROW.get(experiment, NARROW[task]))
    )
    run = fake_run(task, tmp_path / "train", egml_cache, overrides)
    out = tmp_path / "export"
    run_egml([
        f"task={task}", "stage=export", f"ckpt_path={run}", f"data.files=[{sample}]", f"paths.cache_dir={egml_cache}",
        f"paths.output_dir={out}", "logger=csv",
    ])  # fmt: skip
    report = json.loads((out / "export.json").read_text())
    assert report["parity_ok"]
    assert all(p["max_scaled_diff"] <= 1e-5 for p in report["parity"])
    full, small = (p["n_entries"] for p in report["parity"])
    assert full > small == 5  # all selected entries (≤ N_ENTRIES), then 5 with jagged fields re-trimmed

    model = onnx.load(out / "model.onnx")
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("egml_version", "git_commit", "config", "input_names", "units", "working_points", "outputs"):
        assert key in meta
    cfg = OmegaConf.create(meta["config"])
    assert cfg.task.name == task
    names = json.loads(meta["input_names"])
    masks = [n for n in names if n.endswith("_mask") and n not in cfg.data.inputs]
    assert [n for n in names if n not in masks] == list(cfg.data.inputs)  # the documented order
    assert all(names[names.index(m) - 1] == m.removesuffix("_mask") for m in masks)  # mask after its field
    assert json.loads(meta["normalization"])["fields"] == sorted(cfg.data.normalize)
    for graph_input in model.graph.input:  # dynamic batch axis on every input
        assert graph_input.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_normalisation_is_in_the_graph(egml_cache: Path, tmp_path: Path) -> None:
    """Changing the normaliser's statistics changes the ONNX outputs: it is not left to the user."""
    import onnxruntime as ort

    from egml.export.onnx import export_onnx
    from egml.tasks.base import EgmlTask

    class Linear(EgmlTask):
        name = "toy"

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 1))

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, batch):
            return self.net(batch["x"])

    batch = {"x": torch.randn(10, 3, generator=torch.Generator().manual_seed(1))}
    outs = []
    for mean in (0.0, 2.0):
        task = Linear(Model(), {"x": {"mean": mean, "std": 2.0}}).eval()
        data, _ = export_onnx(task, batch, ["x"], {})
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        outs.append(session.run(None, {"x": batch["x"].numpy()})[0])
        with torch.no_grad():
            np.testing.assert_allclose(outs[-1], task(batch).numpy(), atol=1e-6)
    assert np.abs(outs[0] - outs[1]).max() > 1e-3
