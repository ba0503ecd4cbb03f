"""The config of an eval/predict/export run: the training run's config plus this command's choices.

``ckpt_path`` names a checkpoint inside a training run dir (``<run>/checkpoints/*.ckpt``) or the
run dir itself (then ``best.ckpt``, else ``last.ckpt``). The model, task and data sections come
from that run's ``config.yaml``, so the user gives only the checkpoint and the new files. This
command's data files always apply; other ``data.``/``task.``/``model.`` keys set on the command
line apply when the command runs through the Hydra CLI (which records its overrides); group
choices (``experiment=``, ``model=``) cannot change a trained network and are ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from egml.errors import EgmlError

log = logging.getLogger("egml")

FILE_KEYS = ("files", "train_files", "val_files", "test_files")
TRAINED_SECTIONS = ("task", "data", "model")


def locate_checkpoint(ckpt_path: str | None, stage: str) -> tuple[Path, Path | None]:
    """(checkpoint file, its training run dir or None when the checkpoint lies elsewhere)."""
    if ckpt_path in (None, "", "null", "last"):
        raise EgmlError(
            f"config key 'ckpt_path': stage={stage} needs a checkpoint (a .ckpt file in a training run dir, "
            "or the run dir)"
        )
    path = Path(str(ckpt_path)).expanduser().resolve()
    if path.is_dir():
        for name in ("best.ckpt", "last.ckpt"):
            if (path / "checkpoints" / name).is_file():
                return path / "checkpoints" / name, path
        raise EgmlError(f"config key 'ckpt_path': run dir '{path}' has no checkpoints/best.ckpt or last.ckpt")
    if not path.is_file():
        raise EgmlError(
            f"config key 'ckpt_path': checkpoint '{path}' does not exist (expected a .ckpt file or run dir)"
        )
    for run_dir in (path.parent.parent, path.parent):
        if (run_dir / "config.yaml").is_file():
            return path, run_dir
    return path, None


def check_version(run_dir: Path) -> None:
    """A run trained by another egml major.minor version (``egml_run.json``) is refused."""
    import json

    import egml

    info_file = run_dir / "egml_run.json"
    if not info_file.is_file():
        return
    try:
        trained = str(json.loads(info_file.read_text()).get("egml_version", ""))
    except (ValueError, AttributeError):
        raise EgmlError(
            f"{info_file}: not a readable egml_run.json (expected JSON with 'egml_version')"
        ) from None
    if trained.split(".")[:2] != egml.__version__.split(".")[:2]:
        raise EgmlError(
            f"checkpoint's run {run_dir} was trained with egml {trained or '(unknown)'} ({info_file}); "
            f"this is egml {egml.__version__}: expected the same major.minor version; "
            f"retrain, or evaluate with egml=={trained or 'the training version'}"
        )


def cli_overrides() -> list[str]:
    """Dotted keys set on the command line (empty when not run through the Hydra CLI)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return [o.key_or_group.lstrip("+~") for o in parsed]


def merged_config(cfg: DictConfig, run_dir: Path | None, overrides: list[str] | None = None) -> DictConfig:
    """``cfg`` with task/model/data replaced by the training run's, then this command's choices."""
    if run_dir is None:
        log.warning(
            "checkpoint is not inside a training run dir: using this command's task/model/data config"
        )
        return cfg
    trained = OmegaConf.load(run_dir / "config.yaml")
    from egml.run.config_check import check_targets

    for section in TRAINED_SECTIONS:  # the run dir's config.yaml is a file from elsewhere too
        check_targets(section, OmegaConf.to_container(trained[section], resolve=False))
    check_version(run_dir)
    if trained.task.name != cfg.task.name:
        raise EgmlError(
            f"config key 'task.name' is '{cfg.task.name}' but the checkpoint's run trained '{trained.task.name}'; "
            f"pass task={trained.task.name}"
        )
    out = cfg.copy()
    OmegaConf.set_struct(out, False)
    for section in TRAINED_SECTIONS:
        out[section] = trained[section]
    for key in FILE_KEYS:  # the new files always come from this command
        out.data[key] = cfg.data[key]
    for key in overrides if overrides is not None else cli_overrides():
        if "." in key and key.split(".")[0] in TRAINED_SECTIONS:
            OmegaConf.update(out, key, OmegaConf.select(cfg, key), merge=False)
        elif key in ("experiment", "model", "data"):
            log.warning("override '%s=' ignored: stage=%s uses the trained run's config", key, cfg.stage)
    return out


def eval_files(cfg: DictConfig) -> list[str]:
    """The files to evaluate: ``data.files`` (or ``data.test_files``), as a list."""
    files = cfg.data.files if cfg.data.files is not None else cfg.data.test_files
    if files is None:
        raise EgmlError(
            f"config key 'data.files': stage={cfg.stage} needs the files to run on (data.files=[...])"
        )
    return [str(files)] if isinstance(files, str) else [str(f) for f in files]
