"""A ``dangan`` command's ephemeral Prefect API server ends with the command: SIGKILLed or exiting normally.

The real CLI runs in its own session; any process left in that session after the command is gone (Prefect's
uvicorn server is the one that used to stay) fails the test, and the session is killed afterwards either way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.faults import FAULT_ENV
from tests.ingest import badfiles

SITE = "330106"


def _session(sid: int) -> list[psutil.Process]:
    """Live processes of session ``sid`` (zombies are dead; their parent just has not reaped them)."""
    out = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(proc)
    return out


def _is_api_server(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "prefect.server.api.server:create_app" in " ".join(proc.cmdline())
    return False


def _survivors(sid: int, wait: float = 15.0) -> list[str]:
    """Command lines of processes still in the session once ``wait`` seconds have passed without it emptying."""
    deadline = time.monotonic() + wait
    while True:
        left = _session(sid)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    names = []
    for proc in left:
        with contextlib.suppress(psutil.Error):
            names.append(" ".join(proc.cmdline())[:200])
    return names


def _run(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[int, set[int], list[str], str]:
    """Run ``dangan args``; returns (exit status, API server pids seen while it ran, survivors, output)."""
    data, src = tmp_path / "data", tmp_path / "hot"
    src.mkdir(exist_ok=True)
    for i in range(2):
        badfiles.write(src, f"scan{i}.png", badfiles.good_png(text_shade=i * 40, size=(300, 400)))
    add_site(load_settings(data_dir=data), SITE, "西湖区")
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, "PREFECT_API_URL")} | env
    env |= {"DANGAN_DATA_DIR": str(data), "DANGAN_OCR__ENGINE": "fault"}
    log = tmp_path / "cli.log"  # a file, not a pipe: an unread pipe would block the child when full
    servers: set[int] = set()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.app", *args, str(src), "--site", SITE],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 400
        while proc.poll() is None and time.monotonic() < deadline:
            servers |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True) if _is_api_server(p)}
            time.sleep(0.1)
        rc = proc.wait(timeout=5)
        survivors = _survivors(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return rc, servers, survivors, log.read_text(errors="replace")


def test_sigkilled_command_leaves_no_api_server(tmp_path: Path) -> None:
    # the digitize command SIGKILLs itself once OCR rows are written: well after its API server is up
    rc, servers, survivors, output = _run(tmp_path, ["digitize"], {FAULT_ENV: "ocr-recorded"})
    assert rc == -signal.SIGKILL, output[-3000:]
    assert servers, "the command never started an ephemeral API server: nothing was tested\n" + output[-3000:]
    assert survivors == []


def test_normal_exit_leaves_no_api_server(tmp_path: Path) -> None:
    rc, servers, survivors, output = _run(tmp_path, ["ingest"], {})
    assert rc == 0, output[-3000:]
    assert servers, output[-3000:]
    assert survivors == []
