"""Untrusted configs: only egml's own classes are instantiated; expressions are parsed, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import error_line, run_cli


def test_target_outside_egml_is_refused_by_the_cli(tmp_path: Path) -> None:
    proc = run_cli(
        ["model._target_=os.system", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert "config key 'model._target_' is 'os.system'; only egml's own classes may be instantiated" in line


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model._target_=builtins.eval", "model._target_' is 'builtins.eval'"),
        ("+task.module.hook._target_=subprocess.call", "task.module.hook._target_' is 'subprocess.call'"),
        ("model._target_=egml.x.__class__..y", "model._target_' is 'egml.x.__class__..y'"),
    ],
)
def test_target_outside_egml_is_refused(cli, tmp_path: Path, override: str, key: str) -> None:
    code, line = cli([override, f"hydra.run.dir={tmp_path / 'run'}"])
    assert code == 2
    assert key in line and "only egml's own classes may be instantiated" in line


def test_malicious_expressions_are_parsed_not_run(tmp_path: Path, electron_file: Path) -> None:
    from egml.data import DataError, load

    marker = tmp_path / "pwned"
    evil = [
        f"__import__('os').system('touch {marker}')",
        "p_eta.__class__.__bases__",
        "[x for x in p_eta]",
        "(lambda: 1)()",
        "open('/etc/passwd')",
    ]
    for text in evil:
        with pytest.raises(DataError, match=r"disallowed syntax|unknown (name|function)|not allowed"):
            load(str(electron_file), "tree", {"x": {"expr": text}})
        with pytest.raises(DataError):
            load(str(electron_file), "tree", {"eta": "p_eta"}, selection=text)
    assert not marker.exists()


def test_malicious_selection_through_the_cli(cli, tmp_path: Path, electron_file: Path) -> None:
    from .conftest import tiny

    marker = tmp_path / "pwned"
    code, line = cli([
        *tiny(tmp_path / "cache", tmp_path / "run"), f"data.files=[{electron_file}]",
        f"data.selection=\"__import__('os').system('touch {marker}')\"",
    ])  # fmt: skip
    assert code == 2 and "selection" in line and not marker.exists()


def test_pickled_code_in_a_checkpoint_is_never_run(cli, tmp_path: Path) -> None:
    import torch

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Evil()}, ckpt)
    code, line = cli(["task=electron_dnn", "stage=eval", f"ckpt_path={ckpt}", "data.files=[x.root]",
                      f"hydra.run.dir={tmp_path / 'eval'}", "logger=csv"])  # fmt: skip
    assert code == 2 and not marker.exists()
    assert f"'{ckpt}' is not a checkpoint readable with weights_only=True" in line


def test_tampered_run_config_cannot_instantiate_foreign_code(cli, tmp_path: Path) -> None:
    """A run dir's config.yaml is a file from elsewhere too: its ``_target_`` is checked."""
    import json

    import egml

    run = tmp_path / "trained"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.ckpt").write_bytes(b"never read")
    (run / "egml_run.json").write_text(json.dumps({"egml_version": egml.__version__}))
    (run / "config.yaml").write_text(
        "task: {name: electron_dnn}\ndata: {files: null}\nmodel: {_target_: os.system, command: 'touch x'}\n"
    )
    code, line = cli(["task=electron_dnn", "stage=eval", f"ckpt_path={run}", "data.files=[x.root]",
                      f"hydra.run.dir={tmp_path / 'eval'}", "logger=csv"])  # fmt: skip
    assert code == 2 and "config key 'model._target_' is 'os.system'" in line


def test_resume_loader_refuses_pickled_code(tmp_path: Path) -> None:
    """``ckpt_path=last`` resumes through Lightning's loader: torch's weights_only default holds."""
    import pickle

    import torch
    from lightning.fabric.utilities.cloud_io import _load

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "payload": Evil()}, ckpt)
    with pytest.raises(pickle.UnpicklingError):
        _load(ckpt)
    assert not marker.exists()


def test_source_never_unpickles_or_evaluates() -> None:
    """Static guard: every torch.load passes weights_only=True; no eval/exec/pickle.load in egml."""
    import re

    src = Path(__file__).resolve().parents[2] / "src" / "egml"
    offenders = []
    for file in src.rglob("*.py"):
        text = file.read_text()
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            if "weights_only=True" not in call:
                offenders.append(f"{file}: {call}")
        for pattern in (
            r"(?<![\w.])eval\(",
            r"(?<![\w.])exec\(",
            r"pickle\.loads?\(",
            r"load_from_checkpoint\(",
        ):
            offenders += [f"{file}: {pattern}" for _ in re.findall(pattern, text)]
    assert offenders == []
