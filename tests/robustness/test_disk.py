"""Disk full while writing the cache or the predictions (simulated with RLIMIT_FSIZE: writes past
the limit fail with EFBIG, as they fail with ENOSPC on a full disk): one line, nothing partial."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from .conftest import error_line, quiet_env, run_cli


def limit_file_size(n_bytes: int):
    def apply() -> None:  # Python ignores SIGXFSZ, so a write past the limit raises OSError(EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, resource.RLIM_INFINITY))

    return apply


def test_disk_full_while_writing_the_cache(electron_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "columns"
    code = (
        "from egml.data.cache import load_cached\n"
        f"load_cached({str(electron_file)!r}, 'tree', {{'et': 'p_et_calo', 'eta': 'p_eta'}}, cache_dir={str(cache)!r})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=quiet_env(), capture_output=True, text=True, timeout=120,
        preexec_fn=limit_file_size(2000),
    )  # fmt: skip
    assert proc.returncode != 0
    assert "could not write cache" in proc.stderr and "disk full or file-size limit?" in proc.stderr
    assert "expected a writable cache_dir with free space" in proc.stderr
    assert list(cache.iterdir()) == []  # no partial cache folder, no temporary left
    # with room again, the same call builds the cache
    ok = subprocess.run(
        [sys.executable, "-c", code], env=quiet_env(), capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    (built,) = cache.iterdir()
    assert (built / "meta.json").is_file() and not built.name.startswith(".")


def test_disk_full_while_writing_predictions(trained: Path, electron_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "predict"
    args = ["task=electron_dnn", "stage=predict", f"ckpt_path={trained}", f"data.files=[{electron_file}]",
            "logger=csv", f"hydra.run.dir={out}", "hydra.output_subdir=null", f"paths.cache_dir={tmp_path / 'c'}"]  # fmt: skip
    proc = run_cli(args, cwd=tmp_path, preexec_fn=limit_file_size(20_000))
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = error_line(proc.stderr)
    assert (
        f"could not write '{out}/predictions.root': file too large for the file-size limit (ulimit -f)"
        in line
    )
    assert "point paths.output_dir/paths.cache_dir elsewhere" in line
    assert not (out / "predictions.root").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".predictions.root")]  # temporary removed
