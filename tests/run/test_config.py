"""The config tree composes, and unknown or misspelled keys fail with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from egml.cli import CONFIG_DIR
from egml.errors import EgmlError
from egml.run.config_check import validate
from egml.tasks.registry import TASKS


def composed(*overrides: str):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=False)


def test_default_config_is_valid() -> None:
    cfg = composed()
    assert cfg.task.name == "photon_cnn"
    validate(cfg)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_selects_its_data_and_model(task: str) -> None:
    cfg = composed(f"task={task}")
    validate(cfg)
    assert cfg.task.name == task
    assert cfg.data.tree and cfg.model._target_


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("+trainer.max_epoch=3", "trainer.max_epoch'; did you mean 'max_epochs'"),
        ("+model.conv_filter=[8]", "model.conv_filter'; did you mean 'conv_filters'"),
        ("+data.batchsize=8", "data.batchsize'; did you mean 'batch_size'"),
        ("+learning_rate=0.1", "'<root>.learning_rate'"),
        ("stage=fit", "'stage' is 'fit'"),
    ],
)
def test_unknown_keys_are_rejected_with_a_suggestion(override: str, expected: str) -> None:
    cfg = composed(override)
    with pytest.raises(EgmlError, match=None) as info:
        validate(cfg)
    assert expected in str(info.value)


def test_cli_reports_a_misspelled_key_in_one_line(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "egml", "trainer.max_epoch=3", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "max_epoch" in proc.stderr


def test_cli_reports_a_bad_stage_in_one_line(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "egml", "stage=fit", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("egml: error:") and "'stage' is 'fit'" in lines[-1]
    assert "Traceback" not in proc.stderr
