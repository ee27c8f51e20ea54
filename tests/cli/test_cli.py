"""The operator's CLI: help, init twice, sites, status, standalone OCR, kill mid-batch and re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from dangan.catalog.db import session_scope
from dangan.catalog.models import Master, Page, QuarantineItem
from tests.ocr.pages import form_page

runner = CliRunner()
COMMANDS = ("init", "sites", "status", "samples", "ingest", "digitize", "ocr", "search", "demo")


def _run(data: Path, *args: str) -> object:
    result = runner.invoke(app, ["--data-dir", str(data), *args], catch_exceptions=False)
    return result


def test_help_lists_every_command_with_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in result.output
    for cmd in COMMANDS:
        sub = runner.invoke(app, [cmd, "--help"])
        assert sub.exit_code == 0, cmd


def test_init_twice_sites_and_status(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert _run(data, "init").exit_code == 0
    assert _run(data, "init", "--site", "330106", "--name", "西湖区").exit_code == 0
    assert _run(data, "init").exit_code == 0
    assert _run(data, "sites", "add", "110105", "--name", "朝阳区").exit_code == 0
    listing = _run(data, "sites", "list")
    assert "110105" in listing.output and "330106" in listing.output
    bad = _run(data, "sites", "add", "1234", "--name", "x")
    assert bad.exit_code == 2 and "CONFIG_INVALID" in bad.output
    status = _run(data, "status", "--site", "330106", "--json")
    assert json.loads(status.output) == {
        "site": "330106",
        "batches": {},
        "pages": {},
        "quality_issues": {},
        "quarantined": {},
        "transfers": {},
        "outputs": {
            "documents": 0,
            "pages": 0,
            "ocr_results": 0,
            "ocr_pending": 0,
            "ocr_missing": 0,
            "searchable_pdfs": 0,
            "pdf_missing": 0,
            "pdf_stale": 0,
            "pdf_pending": 0,
            "objects_missing": 0,
        },
    }
    missing = _run(data, "status", "--site", "999999")
    assert missing.exit_code == 2 and "sites list" in missing.output  # says what to do next


def test_ocr_json_standalone(tmp_path: Path) -> None:
    img = tmp_path / "form.png"
    Image.fromarray(form_page()).save(img, dpi=(300, 300))
    (tmp_path / "junk.tif").write_bytes(b"II*\x00garbage")
    result = _run(tmp_path / "d", "ocr", str(img), str(tmp_path / "junk.tif"), "--json")
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exit_code == 1  # one input was unreadable
    ok = next(r for r in rows if r["path"].endswith("form.png"))
    assert set(ok) >= {"path", "page", "engine", "model", "device", "seconds", "lines"}
    assert ok["engine"] == "ppocr" and ok["device"] == "cpu" and ok["page"] == 1
    assert "11010519491231002X" in "".join(line["text"] for line in ok["lines"])
    bad = next(r for r in rows if r["path"].endswith("junk.tif"))
    assert bad["error"].startswith("INGEST_") and bad["lines"] == []
    assert "note" not in ok and "note" not in bad  # only a readable page without text gets one


def test_ocr_text_mode_says_why_a_page_has_no_text_and_sums_up(tmp_path: Path) -> None:
    """Operators see a reason per page (the ingest codes for unreadable files) and a summary table."""
    src = tmp_path / "scans"
    src.mkdir()
    Image.fromarray(form_page()).save(src / "a_form.png", dpi=(300, 300))
    Image.new("L", (1654, 2339), 255).save(src / "b_blank.png", dpi=(200, 200))
    (src / "c_empty.tif").write_bytes(b"")
    (src / "d_notes.pdf").write_bytes(b"these are not PDF bytes")
    result = _run(tmp_path / "d", "ocr", str(src), "--engine", "tesseract", "--batch", "3")
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    assert "11010519491231002X" in "".join(result.output.split())
    assert "(no text recognized on this page)" in out
    assert "INGEST_EMPTY_FILE" in out and "INGEST_UNSUPPORTED_FORMAT" in out
    summary = out[out.index("pages/s") :]
    assert summary.split("│")[1:5] == [" 4 ", " 1 ", " 1 ", " 2 "]  # pages, with text, no text, failed


def _done(db: str) -> tuple[int, int, int]:
    with session_scope(db) as s:
        return (
            s.scalar(select(func.count()).select_from(Master)) or 0,
            s.scalar(select(func.count()).select_from(QuarantineItem)) or 0,
            s.scalar(select(func.count()).select_from(Page)) or 0,
        )


def test_killed_mid_batch_then_rerun_accounts_every_file_once(tmp_path: Path) -> None:
    """SIGKILL the real CLI while it ingests, run it again: every file exactly once, no gaps."""
    data, src = tmp_path / "d", tmp_path / "hot"
    src.mkdir()
    n = 14
    for i in range(n):
        page = form_page((f"第{i}号 姓名 张三", "公民身份号码 11010519491231002X", f"缴费基数 {i},380.00"))
        Image.fromarray(page).save(src / f"scan{i:02d}.png", dpi=(300, 300))
    (src / "empty.tif").write_bytes(b"")
    assert _run(data, "init", "--site", "330106", "--name", "西湖区").exit_code == 0
    env = {**os.environ, "DANGAN_DATA_DIR": str(data), "DANGAN_INGEST__CHUNK_SIZE": "2"}
    cmd = [sys.executable, "-m", "cli.app", "ingest", str(src), "--site", "330106", "--json"]
    log = tmp_path / "ingest.log"  # a file, not a pipe: an unread pipe would block the child when full
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    db = f"sqlite:///{data / 'catalog.db'}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(_done(db)[:2]) >= 3:
            break
        time.sleep(0.2)
    if proc.poll() is not None:
        err = log.read_text(errors="replace")[-3000:]
        pytest.fail(f"the ingest ended (rc={proc.returncode}) before it could be interrupted:\n{err}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    masters, quarantined, _ = _done(db)
    assert 0 < masters + quarantined < n + 1
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    report = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert report["files"] == n + 1 and report["unaccounted"] == []
    assert report["accepted_files"] == n and len(report["quarantined"]) == 1
    assert _done(db) == (n, 1, n)  # exactly once: no duplicate rows, no gaps
    with session_scope(db) as s:
        assert set(s.scalars(select(Page.status))) == {"preprocessed"}
