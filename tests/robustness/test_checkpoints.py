"""stage=eval with a checkpoint that does not fit: another task, another egml version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def eval_args(tmp_path: Path, ckpt: Path, data: Path, task: str = "electron_dnn") -> list[str]:
    return [f"task={task}", "stage=eval", f"ckpt_path={ckpt}", f"data.files=[{data}]", "logger=csv",
            f"hydra.run.dir={tmp_path / 'eval'}", f"paths.cache_dir={tmp_path / 'cache'}"]  # fmt: skip


def test_checkpoint_of_another_task_in_its_run_dir(
    cli, trained: Path, electron_file: Path, tmp_path: Path
) -> None:
    code, line = cli(eval_args(tmp_path, trained, electron_file, task="photon_cnn"))
    assert code == 2
    assert "config key 'task.name' is 'photon_cnn' but the checkpoint's run trained 'electron_dnn'" in line
    assert "pass task=electron_dnn" in line


def test_checkpoint_of_another_task_copied_elsewhere(
    cli, trained: Path, electron_file: Path, tmp_path: Path
) -> None:
    lone = tmp_path / "elsewhere" / "model.ckpt"  # no run dir around it: only the checkpoint tells
    lone.parent.mkdir()
    shutil.copy(trained / "checkpoints" / "best.ckpt", lone)
    code, line = cli(eval_args(tmp_path, lone, electron_file, task="photon_cnn"))
    assert code == 2
    assert (
        "config key 'ckpt_path': the checkpoint was trained for task 'electron_dnn', not 'photon_cnn'" in line
    )


def test_checkpoint_of_an_incompatible_egml_version(
    cli, trained: Path, electron_file: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old_run"
    shutil.copytree(trained, old, ignore=shutil.ignore_patterns("csv", "plots", "*.root"))
    info = json.loads((old / "egml_run.json").read_text())
    (old / "egml_run.json").write_text(json.dumps({**info, "egml_version": "0.0.3"}))
    code, line = cli(eval_args(tmp_path, old, electron_file))
    assert code == 2
    assert f"checkpoint's run {old} was trained with egml 0.0.3" in line
    assert "expected the same major.minor version; retrain, or evaluate with egml==0.0.3" in line


def test_corrupt_last_checkpoint_on_resume(cli, electron_file: Path, tmp_path: Path) -> None:
    """``ckpt_path=last`` on a run dir whose last.ckpt is truncated: one line, nothing trained."""
    from .conftest import tiny

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 truncated")
    code, line = cli([*tiny(tmp_path / "cache", run_dir), f"data.files=[{electron_file}]", "ckpt_path=last"])
    assert code == 2 and "is not a checkpoint readable with weights_only=True" in line
    assert not (run_dir / "metrics.json").exists()


def test_lone_checkpoint_records_its_egml_version(trained: Path) -> None:
    import torch

    import egml

    ckpt = torch.load(trained / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["egml"]["egml_version"] == egml.__version__
