"""Validation of a composed config: unknown or misspelled keys fail with one clear line.

Hydra already rejects command-line overrides of keys that do not exist; this also catches
typos in YAML files (experiments, user configs) and ``+key=`` additions, by checking every
``_target_`` node against the signature of the class it instantiates and the fixed groups
against their schemas.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from egml.errors import EgmlError

TOP_LEVEL_KEYS = {
    "task",
    "data",
    "model",
    "trainer",
    "logger",
    "callbacks",
    "paths",
    "stage",
    "seed",
    "ckpt_path",
    "objective",
    "eval",
    "export",
    "bench",
}
STAGES = ("train", "eval", "predict", "export")
LOGGER_KEYS = {"csv", "wandb"}
WANDB_KEYS = {"enabled", "mode", "project", "entity", "group", "tags"}
CALLBACK_KEYS = {"checkpoint", "early_stopping", "progress_bar"}


def _suggest(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_keys(where: str, keys: Iterable[str], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in keys:
        if key not in allowed:
            raise EgmlError(
                f"unknown config key '{where}.{key}'{_suggest(key, allowed)} "
                f"(expected one of: {', '.join(sorted(allowed))})"
            )


#: ``_target_`` may only name egml's own classes: instantiating (or even importing) anything
#: else from a config would run arbitrary code (issue 10: untrusted configs)
TARGET_PREFIX = "egml."


def check_target_is_egml(path: str, where: str) -> None:
    if (
        not str(path).startswith(TARGET_PREFIX)
        or ".." in str(path)
        or not str(path).replace(".", "").replace("_", "").isalnum()
    ):
        raise EgmlError(
            f"config key '{where}._target_' is '{path}'; only egml's own classes may be instantiated "
            f"(expected a class path starting with '{TARGET_PREFIX}', e.g. egml.models.photon_cnn.PhotonCNN)"
        )


def check_targets(where: str, node: Any) -> None:
    """Refuse any ``_target_`` outside egml anywhere under ``node`` (before anything is imported)."""
    if isinstance(node, Mapping):
        if "_target_" in node:
            check_target_is_egml(str(node["_target_"]), where)
        for key, value in node.items():
            check_targets(f"{where}.{key}", value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(f"{where}[{i}]", value)


def import_target(path: str, where: str) -> Any:
    check_target_is_egml(path, where)
    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise EgmlError(f"config key '{where}._target_': cannot import '{path}' ({exc})") from None


def signature_keys(target: Any) -> tuple[set[str], bool]:
    """Parameter names accepted by a class or function, and whether it takes **kwargs."""
    fn = target.__init__ if inspect.isclass(target) else target
    params = inspect.signature(fn).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {n for n in params if n != "self"}, var_kw


def check_target_node(where: str, node: Mapping[str, Any]) -> None:
    target = import_target(str(node["_target_"]), where)
    names, var_kw = signature_keys(target)
    if not var_kw:
        check_keys(where, [k for k in node if not k.startswith("_")], names)


def _walk_targets(where: str, node: Any) -> None:
    if isinstance(node, Mapping):
        if "_target_" in node:
            check_target_node(where, node)
        for key, value in node.items():
            _walk_targets(f"{where}.{key}", value)


def model_tasks() -> dict[str, set[str]]:
    """Model class → the tasks whose model configs (``conf/model/<task>[_variant].yaml``) use it."""
    from pathlib import Path

    from egml.tasks.registry import TASKS

    out: dict[str, set[str]] = {}
    conf = Path(__file__).resolve().parents[1] / "conf" / "model"
    for file in sorted(conf.glob("*.yaml")):
        owners = [t for t in TASKS if file.stem == t or file.stem.startswith(f"{t}_")]
        target = OmegaConf.load(file).get("_target_")
        if owners and target:
            out.setdefault(str(target), set()).add(max(owners, key=len))
    return out


def check_model_fits_task(cfg: DictConfig) -> None:
    """A model made for another task (e.g. the photon CNN on electron data) is refused up front."""
    target = str(cfg.model.get("_target_", ""))
    tasks = model_tasks().get(target)
    if tasks and cfg.task.name not in tasks:
        raise EgmlError(
            f"config key 'model._target_': model '{target}' is made for task {', '.join(sorted(tasks))}, "
            f"not for task '{cfg.task.name}' (its data has other inputs); expected model={cfg.task.name} "
            "or no model= override"
        )


#: model keys naming per-candidate fields the network reads besides its images
MODEL_FIELD_KEYS = ("scalars", "scalar_fields")


def check_model_fields_are_inputs(cfg: DictConfig) -> None:
    """Every field a model's head reads is in ``data.inputs``: the export's inputs and the truth check."""
    inputs = set(cfg.data.get("inputs") or ())
    for key in MODEL_FIELD_KEYS:
        for field in cfg.model.get(key) or ():
            if field not in inputs:
                raise EgmlError(
                    f"config key 'model.{key}' names field '{field}', which is not in data.inputs; "
                    "expected every field the network reads in data.inputs too"
                )


_EFFICIENCY_KEY = re.compile(r"(_efficiency|_target)$")
_EFFICIENCY_MAPS = ("wp_targets", "targets")


def check_efficiency_targets(where: str, node: Any) -> None:
    """Working-point/efficiency targets under ``task`` must be numbers in (0, 1)."""
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        here = f"{where}.{key}"
        if key in _EFFICIENCY_MAPS and isinstance(value, Mapping):
            for name, target in value.items():
                _check_fraction(f"{here}.{name}", target)
        elif _EFFICIENCY_KEY.search(str(key)) and value is not None and not isinstance(value, Mapping):
            _check_fraction(here, value)
        else:
            check_efficiency_targets(here, value)


def _check_fraction(where: str, value: Any) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < float(value) < 1.0
    if not ok:
        raise EgmlError(
            f"config key '{where}' is {value!r}; expected an efficiency strictly between 0 and 1 "
            "(e.g. 0.8 for 80 %)"
        )


def validate(cfg: DictConfig) -> None:
    """Raise EgmlError on the first unknown or invalid key."""
    check_keys("<root>", cfg.keys(), TOP_LEVEL_KEYS)
    for key in cfg.keys():
        check_targets(
            str(key),
            OmegaConf.to_container(cfg[key], resolve=False) if OmegaConf.is_config(cfg[key]) else cfg[key],
        )
    if cfg.stage not in STAGES:
        raise EgmlError(f"config key 'stage' is '{cfg.stage}'; expected one of {', '.join(STAGES)}")
    from lightning import Trainer

    trainer_keys, _ = signature_keys(Trainer)
    check_keys("trainer", cfg.trainer.keys(), trainer_keys)
    check_keys("logger", cfg.logger.keys(), LOGGER_KEYS)
    check_keys("logger.wandb", cfg.logger.wandb.keys(), WANDB_KEYS)
    check_keys("callbacks", cfg.callbacks.keys(), CALLBACK_KEYS)
    from egml.run.data_source import DATA_KEYS

    check_keys("data", cfg.data.keys(), DATA_KEYS)
    container = OmegaConf.to_container(cfg, resolve=False)
    for group in ("model", "task"):
        _walk_targets(group, container[group])
    check_model_fits_task(cfg)
    check_model_fields_are_inputs(cfg)
    check_efficiency_targets("task", OmegaConf.to_container(cfg.task, resolve=True))
