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


def import_target(path: str, where: str) -> Any:
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


def validate(cfg: DictConfig) -> None:
    """Raise EgmlError on the first unknown or invalid key."""
    check_keys("<root>", cfg.keys(), TOP_LEVEL_KEYS)
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
