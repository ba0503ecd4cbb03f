"""Task name → LightningModule class (imported lazily)."""

from __future__ import annotations

import importlib
from typing import Any

from egml.errors import EgmlError

TASKS: dict[str, str] = {
    "photon_cnn": "egml.tasks.photon_cnn:PhotonCNNTask",
    "electron_dnn": "egml.tasks.electron_dnn:ElectronDNNTask",
    "merged_photon": "egml.tasks.merged_photon:MergedPhotonTask",
    "energy_regression": "egml.tasks.energy_regression:EnergyRegressionTask",
}


def task_class(name: str) -> Any:
    if name not in TASKS:
        raise EgmlError(f"config key 'task.name' is '{name}'; expected one of {', '.join(TASKS)}")
    module, _, attr = TASKS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise EgmlError(f"task '{name}' is not available in this egml build ({exc})") from None
