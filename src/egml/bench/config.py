"""The real egml config of a task at a benchmark scale (in-process Hydra compose)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from egml.bench.scales import Scale

TASKS = ("photon_cnn", "electron_dnn", "merged_photon", "energy_regression")


def data_overrides(task: str, scale: Scale, workdir: Path) -> list[str]:
    """Overrides shared by every section: sizes of the default data and the shared cache dir."""
    scale = scale.for_task(task)
    return [
        f"task={task}",
        f"paths.cache_dir={workdir / 'cache'}",
        f"data.synthetic.n_train={scale.n_train}",
        f"data.synthetic.n_val={scale.n_val}",
        f"data.synthetic.n_test={scale.n_test}",
        f"data.synthetic.workers={scale.gen_workers}",
    ]


def compose_config(
    task: str, scale: Scale, workdir: Path, extra: list[str] | None = None, device: str = "cpu"
) -> DictConfig:
    """The task's config at ``scale``; on ``device="cuda"`` with the GPU trainer (bf16, not deterministic)."""
    from hydra import compose, initialize_config_dir

    from egml.cli import CONFIG_DIR

    overrides = data_overrides(task, scale, workdir)
    if device == "cuda":
        overrides.append("trainer=gpu")
    if not any(o.startswith("paths.output_dir=") for o in extra or []):
        overrides.append(f"paths.output_dir={workdir / 'runs' / task}")
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=[*overrides, *(extra or [])])  # later overrides win
