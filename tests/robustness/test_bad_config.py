"""Bad configuration through the real CLI: one ``egml: error:`` line, exit 2, no traceback.

These fail while the config is composed or validated, before torch is imported, so they
run ``python -m egml`` as a subprocess (the real entry point) at little cost.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import error_line, run_cli


def fails(tmp_path: Path, *args: str) -> str:
    """Run ``python -m egml ARGS`` in a subprocess; the one error line."""
    proc = run_cli([*args, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    return error_line(proc.stderr)


@pytest.fixture
def fails_here(cli, tmp_path: Path):
    """``egml.cli.main`` in this process (the same code path, without a new interpreter)."""

    def call(*args: str) -> str:
        code, line = cli([*args, f"hydra.run.dir={tmp_path / 'run'}"])
        assert code == 2
        return line

    return call


def test_unknown_key_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    line = fails(tmp_path, "data.batchsize=8")  # Hydra's own error, normally several lines
    assert "egml: error: config: Could not override 'data.batchsize'" in line
    assert (
        "To append to your config use +data.batchsize=8" in line
        and "Key 'batchsize' is not in struct" in line
    )


def test_unknown_key_added_with_plus_suggests_the_closest(fails_here) -> None:
    line = fails_here("+data.batchsize=8")
    assert "unknown config key 'data.batchsize'; did you mean 'batch_size'?" in line


def test_photon_model_on_electron_data(fails_here) -> None:
    line = fails_here("task=electron_dnn", "model=photon_cnn")
    assert (
        "config key 'model._target_': model 'egml.models.photon_cnn.PhotonCNN' is made for task photon_cnn, "
        "not for task 'electron_dnn'" in line
    )
    assert "expected model=electron_dnn" in line


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("task.module.evaluation.wp_targets.tight=1.2", "task.module.evaluation.wp_targets.tight' is 1.2"),
        ("task.module.evaluation.target_efficiency=0", "task.module.evaluation.target_efficiency' is 0"),
        ("task.baseline.targets.loose=-0.5", "task.baseline.targets.loose' is -0.5"),
    ],
)
def test_working_point_target_outside_0_1(fails_here, override: str, key: str) -> None:
    line = fails_here("task=electron_dnn", override)
    assert key in line and "expected an efficiency strictly between 0 and 1" in line


def test_truth_branch_requested_as_input(fails_here) -> None:
    line = fails_here("task=electron_dnn", "data.inputs=[Rhad,label]", "data.normalize=[Rhad]")
    assert (
        "config key 'data.inputs': field 'label' reads branch 'p_class6', a truth/generator-latent branch"
        in line
    )


def test_output_dir_that_is_not_writable(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing; sysfs refuses even root
        target = Path("/sys/egml-robustness/run")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        target = locked / "run"
    proc = run_cli(["task=electron_dnn", f"hydra.run.dir={target}"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert str(target.parent) in line
    assert "choose a writable directory (hydra.run.dir / paths.output_dir)" in line
