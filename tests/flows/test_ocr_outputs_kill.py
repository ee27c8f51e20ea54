"""Searchable PDFs survive a crash: digitize SIGKILLed after the OCR rows are written, before any PDF is built.

四性检测 and ``dangan status`` must show the gap; the rerun builds every missing PDF and 四性检测 passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, OcrResult, ScanBatch
from dangan.catalog.sites import add_site
from dangan.catalog.status import site_status
from dangan.config import load_settings
from dangan.faults import FAULT_ENV
from dangan.fourprops import check_batch
from dangan.ocr.outputs import output_gaps
from dangan.storage.factory import open_store
from tests.ingest import badfiles

SITE = "330106"
FILES = 5


def _digitize(data: Path, src: Path, kill_at: str | None) -> tuple[int, str]:
    """The real CLI in its own process group; returns (exit status, output). Output goes to a file and the
    group is killed afterwards: the temporary Prefect server it started outlives a SIGKILLed CLI."""
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env |= {"DANGAN_DATA_DIR": str(data), "DANGAN_OCR__ENGINE": "fault", "DANGAN_OCR__CHUNK_SIZE": "2"}
    if kill_at:
        env[FAULT_ENV] = kill_at
    cmd = [sys.executable, "-m", "cli.app", "digitize", str(src), "--site", SITE, "--json"]
    log = data.parent / f"digitize-{kill_at or 'rerun'}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=500)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return rc, log.read_text(errors="replace")


def test_killed_before_pdfs_then_rerun_builds_every_pdf(tmp_path: Path) -> None:
    data, src = tmp_path / "data", tmp_path / "hot"
    src.mkdir()
    for i in range(FILES):  # different shades: different bytes, no duplicates
        badfiles.write(src, f"scan{i}.png", badfiles.good_png(text_shade=i * 20, size=(300, 400)))
    settings = load_settings(data_dir=data)
    ref = add_site(settings, SITE, "西湖区")
    store = open_store(ref.store_url)

    rc, output = _digitize(data, src, "ocr-recorded")
    assert rc == -signal.SIGKILL, output[-3000:]
    with session_scope(ref.catalog_url) as s:
        batch_id = s.scalars(select(ScanBatch.id)).one()
        docs = sorted(s.scalars(select(Document.id)))
        assert len(docs) == FILES and len(s.scalars(select(OcrResult.id)).all()) == FILES  # rows written
        assert s.scalars(select(Derivative).filter_by(kind="document-pdf")).all() == []  # no PDF yet

    four = check_batch(ref.catalog_url, store, SITE, batch_id)
    assert not four.passed
    assert sorted(p.file for p in four.problems if p.code == "SEARCHABLE_PDF_MISSING") == [
        f"scan{i}.png" for i in range(FILES)
    ]
    assert four.outputs["pdf_missing"] == FILES and four.outputs["ocr_results"] == FILES
    assert site_status(ref.catalog_url, SITE)["outputs"]["pdf_missing"] == FILES

    rc, output = _digitize(data, src, None)
    assert rc == 0, output[-3000:]
    report = json.loads(next(line for line in reversed(output.splitlines()) if line.startswith("{")))
    assert report["ocr"]["pages"] == 0  # nothing read again
    assert report["ocr"]["documents_pdf"] == FILES and report["four_properties"]["passed"]
    gaps = output_gaps(ref.catalog_url, SITE, batch_id=batch_id, store=store)
    assert gaps.searchable_pdfs == FILES and gaps.needs_pdf == [] and gaps.objects_missing == []
    assert check_batch(ref.catalog_url, store, SITE, batch_id).passed
    assert site_status(ref.catalog_url, SITE)["outputs"]["pdf_missing"] == 0
