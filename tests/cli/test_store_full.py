"""The real CLI on a store whose disk is full: a coded message with what to do, no traceback, nothing quarantined."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: too small for one 300 KB scan (needs root and mount, else skipped)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_ingest_onto_a_full_disk_ends_with_the_code_and_no_traceback(tmp_path: Path, full_disk: Path) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    rng = np.random.default_rng(7)
    for i in range(2):  # noise does not compress: each PNG is ~300 KB
        Image.fromarray(rng.integers(0, 255, (600, 500), dtype=np.uint8)).save(hot / f"scan{i}.png")
    env = {**os.environ, "DANGAN_DATA_DIR": str(tmp_path / "d"), "DANGAN_STORE_URL": str(full_disk / "store")}
    cli = [sys.executable, "-m", "cli.app"]
    init = subprocess.run([*cli, "init", "--site", "330106", "--name", "x"], env=env, cwd=ROOT, capture_output=True)
    assert init.returncode == 0, init.stderr.decode()[-2000:]
    run = subprocess.run(
        [*cli, "ingest", str(hot), "--site", "330106"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=400
    )
    out = run.stdout + run.stderr
    assert run.returncode == 2, out[-3000:]
    assert "Error STORE_DISK_FULL" in out and "What to do: Free space" in out and "存储空间已满" in out
    assert "Traceback" not in out
    assert list((full_disk / "store" / ".tmp").iterdir()) == []  # the half-written temp file was removed
    with sqlite3.connect(tmp_path / "d" / "catalog.db") as db:
        assert db.execute("select count(*) from quarantine_item").fetchone() == (0,)  # not the scan's fault
        assert db.execute("select count(*) from master").fetchone() == (0,)
        outcomes = {o for (o,) in db.execute("select outcome from batch_file")}
    assert outcomes <= {"pending"}  # a rerun after freeing space ingests the files
