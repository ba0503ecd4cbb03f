"""Task name → generator class, by lazy import path (importing egml.sim stays cheap)."""

from __future__ import annotations

import importlib
import importlib.util

GENERATORS: dict[str, str] = {
    "photon_cnn": "egml.sim.photon:SinglePhotonGenerator",  # T1, PHYSICS.md §2
    "electron_dnn": "egml.sim.electron:ElectronGenerator",  # T2, §3
    "merged_photon": "egml.sim.cms.merged:MergedPhotonGenerator",  # T3, §4
    "energy_regression": "egml.sim.calib:CaloCalibGenerator",  # T4, §5
}


def task_names() -> list[str]:
    return sorted(GENERATORS)


def import_path(task: str | type) -> str:
    """``module:Class`` path of a task name, of an explicit ``module:Class`` string or of a class."""
    if isinstance(task, type):
        return f"{task.__module__}:{task.__qualname__}"
    if not isinstance(task, str) or not task:
        raise ValueError(f"task must be a task name or 'module:Class', got {task!r}")
    if task in GENERATORS:
        return GENERATORS[task]
    if ":" in task:
        return task
    raise ValueError(f"unknown task {task!r}; expected one of {task_names()} or 'module:Class'")


def is_available(task: str | type) -> bool:
    """Whether the generator's module exists (it may still fail to import)."""
    module = import_path(task).partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def generator_class(task: str | type) -> type:
    """The generator class of ``task`` (task name, ``module:Class`` or the class itself)."""
    if isinstance(task, type):
        return task
    path = import_path(task)
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"generator for task {task!r} is not available: cannot import {module_name} ({err})"
        ) from err
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"generator for task {task!r} is not available: {module_name} has no {attr!r}")
    if not isinstance(obj, type):
        raise ValueError(f"generator for task {task!r}: {path} is not a class")
    return obj
