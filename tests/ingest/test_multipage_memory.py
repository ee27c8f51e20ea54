"""Issue 19 (3): many-page files are decoded one page at a time, refused by page/pixel limits from their headers,
and no file, not even one that exhausts memory or kills its process, keeps its batch open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import BatchFile, Master, Page, QuarantineItem, ScanBatch
from dangan.ingest import batch as batch_mod
from dangan.ingest.batch import MAX_UNFINISHED_ATTEMPTS, ingest_batch_local
from tests.ingest import badfiles
from tests.ingest.multipage import blank_pdf, blank_tiff

SITE = "330106"
ROOT = Path(__file__).resolve().parents[2]
# The child imports numpy, OpenCV, pdfium, SQLAlchemy and Pillow first (~0.55 GB of address space here), then
# caps its address space (RLIMIT_AS) at that plus a headroom. Holding the 2,000 decoded pages of the TIFF below
# needs 17 GB; one A4 page at 300 dpi and its QA and derivative need well under 0.3 GB (measured: ~0.2 GB).
HEADROOM_MB = 1024


def _ingest_in_child(src: Path, data: Path, *extra: str, headroom_mb: int = HEADROOM_MB) -> dict:  # type: ignore[type-arg]
    cmd = [sys.executable, "-m", "tests.ingest.multipage", str(src), str(data), "--headroom-mb", str(headroom_mb)]
    cmd += extra
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # thread stacks count in RLIMIT_AS
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_2000_page_tiff_and_600_page_pdf_are_refused_and_the_batch_goes_on(tmp_path: Path) -> None:
    """The issue's file: 2,000 blank A4 pages in ~1.4 MB. Under a 1 GB headroom the run succeeds, both oversized
    files are quarantined with their codes before any page is decoded, and the files after them are ingested."""
    src = tmp_path / "hot"
    badfiles.write(src, "a_2000_pages.tif", blank_tiff(2000))
    badfiles.write(src, "b_600_pages.pdf", blank_pdf(600))
    badfiles.write(src, "c_after.png", badfiles.good_png())
    badfiles.write(src, "d_three_pages.pdf", blank_pdf(3, (298.0, 421.0)))  # A6, under every limit
    out = _ingest_in_child(src, tmp_path / "data")
    assert out["quarantined"] == {"a_2000_pages.tif": "INGEST_PAGE_LIMIT", "b_600_pages.pdf": "INGEST_PDF_PAGE_LIMIT"}
    assert out["status"] == "complete" and out["unaccounted"] == []
    assert out["accepted_files"] == 2 and out["pages"] == 4


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_page_that_exhausts_memory_is_quarantined_and_the_batch_goes_on(tmp_path: Path) -> None:
    """A single 13000 x 13000 page is under the pixel limits (ours 250 MP, Pillow's 179 MP) but decoding and
    measuring it takes ~0.66 GB (measured without a cap), more than the 0.4 GB headroom: the MemoryError on that
    file becomes INGEST_OUT_OF_MEMORY, the next file is ingested, the batch closes."""
    src = tmp_path / "hot"
    badfiles.write(src, "a_huge.tif", blank_tiff(1, (13000, 13000)))
    badfiles.write(src, "b_after.png", badfiles.good_png())
    out = _ingest_in_child(src, tmp_path / "data", "--no-derivatives", headroom_mb=400)
    assert out["quarantined"] == {"a_huge.tif": "INGEST_OUT_OF_MEMORY"}
    assert out["status"] == "complete" and out["accepted_files"] == 1 and out["unaccounted"] == []


def _peak_ingest_bytes(tmp_path: Path, site_settings, pages: int) -> int:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    src = tmp_path / f"hot{pages}"
    badfiles.write(src, "doc.tif", blank_tiff(pages, (827, 1165), dpi=100))  # A4 at 100 dpi: 1 MB per page
    tracemalloc.start()
    try:
        report = ingest_batch_local(settings, SITE, str(src))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.pages == pages and report.quarantined == []
    with session_scope(ref.catalog_url) as s:  # every page has its derivative (decoded a second time)
        assert {p.status for p in s.scalars(select(Page))} == {"preprocessed"}
    return peak


def test_peak_memory_is_flat_in_the_page_count(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    """Decoding, measuring and deriving 14 pages peaks where 2 pages do (numpy buffers are traced); holding the
    decoded pages, as before, added ~1 MB per page."""
    small = _peak_ingest_bytes(tmp_path, site_settings, 2)
    large = _peak_ingest_bytes(tmp_path, site_settings, 14)
    page = 827 * 1165
    assert large < small + 2 * page, (small, large)


def test_total_pixel_budget_refuses_the_file_before_decoding(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    settings.ingest.max_total_pixels = 10 * 827 * 1165  # ten pages of this size
    src = tmp_path / "hot"
    badfiles.write(src, "eleven.tif", blank_tiff(11, (827, 1165)))
    badfiles.write(src, "ten.tif", blank_tiff(10, (827, 1165)))  # exactly at the budget
    settings.ingest.make_derivatives = False
    report = ingest_batch_local(settings, SITE, str(src))
    assert [(q.file, q.code) for q in report.quarantined] == [("eleven.tif", "INGEST_FILE_PIXEL_LIMIT")]
    assert report.accepted_files == 1 and report.pages == 10
    with session_scope(ref.catalog_url) as s:
        q = s.scalars(select(QuarantineItem)).one()
        assert q.details["limit"] == 10 * 827 * 1165 and q.details["hint"]


def test_a_file_that_kills_its_run_is_quarantined_after_two_runs(
    tmp_path: Path, site_settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A run that dies on a file (SIGKILL, the kernel's OOM killer: nothing can be caught) leaves it marked
    started; the run after the second such death quarantines it untouched and the batch completes. A file that
    died once (an operator's Ctrl-C, a reboot) is tried again normally; new bytes under the killer's name too."""
    settings, ref = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "a_killer.tif", blank_tiff(2, (400, 500)))
    badfiles.write(src, "b_dies_once.tif", blank_tiff(3, (400, 500)))
    badfiles.write(src, "c_fine.png", badfiles.good_png())
    real = batch_mod.ingest_file
    attempts: dict[str, int] = {}

    def dies(ctx, source, item, *args):  # type: ignore[no-untyped-def]
        attempts[item.name] = attempts.get(item.name, 0) + 1
        if item.name == "a_killer.tif" or (item.name == "b_dies_once.tif" and attempts[item.name] == 1):
            raise KeyboardInterrupt("stands in for a process killed while decoding")
        return real(ctx, source, item, *args)

    monkeypatch.setattr(batch_mod, "ingest_file", dies)
    for _ in range(MAX_UNFINISHED_ATTEMPTS + 1):  # a dies twice; then a is quarantined and b dies once
        with pytest.raises(KeyboardInterrupt):
            ingest_batch_local(settings, SITE, str(src))
    report = ingest_batch_local(settings, SITE, str(src))
    report = ingest_batch_local(settings, SITE, str(src))  # and again: the killer stays out, untouched
    assert attempts == {"a_killer.tif": MAX_UNFINISHED_ATTEMPTS, "b_dies_once.tif": 3, "c_fine.png": 2}
    assert [(q.file, q.code) for q in report.quarantined] == [("a_killer.tif", "INGEST_CRASHED")]
    assert report.accepted_files == 2 and report.pages == 4 and report.unaccounted == []
    with session_scope(ref.catalog_url) as s:
        assert s.scalars(select(ScanBatch.status)).one() == "complete"
        q = s.scalars(select(QuarantineItem)).one()
        assert q.object_key and q.details["unfinished_attempts"] == MAX_UNFINISHED_ATTEMPTS
        files = {f.name: (f.outcome, f.details.get("unfinished_attempts")) for f in s.scalars(select(BatchFile))}
        assert files == {
            "a_killer.tif": ("quarantined", MAX_UNFINISHED_ATTEMPTS),
            "b_dies_once.tif": ("already", None),
            "c_fine.png": ("already", None),
        }
        assert sorted(s.scalars(select(Master.original_name))) == ["b_dies_once.tif", "c_fine.png"]
    badfiles.write(src, "a_killer.tif", blank_tiff(4, (400, 500)))  # rescanned: other bytes, same name
    monkeypatch.setattr(batch_mod, "ingest_file", real)
    report = ingest_batch_local(settings, SITE, str(src))
    assert report.accepted_files == 3 and report.pages == 8
