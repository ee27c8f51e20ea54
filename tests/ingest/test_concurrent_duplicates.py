"""Identical files of one batch in chunks that run at the same time: one master, every file accounted for."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import BatchFile, Document, Master, Page, ScanBatch
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.ingest import register
from dangan.ingest.batch import close_batch, ingest_batch_local, open_batch, run_chunk
from tests.ingest import badfiles

SITE = "330106"
NAMES = ["a.tif", "b.tif", "c.tif"]


def test_identical_files_in_concurrent_chunks(tmp_path: Path, catalog_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "杭州市西湖区", catalog_url=catalog_url)
    src = tmp_path / "hot"
    data = badfiles.multipage_tiff(2)
    for name in NAMES:
        badfiles.write(src, name, data)
    plan = open_batch(settings, SITE, str(src))

    # Every chunk looks for the master before any of them registers it: the race, made certain.
    barrier = threading.Barrier(len(NAMES), timeout=60)
    real_find = register.find_master
    looked = threading.local()

    def find_then_wait(session, site, sha):  # type: ignore[no-untyped-def]
        found = real_find(session, site, sha)
        if not getattr(looked, "once", False):  # the first lookup of each chunk; later ones run freely
            looked.once = True
            barrier.wait()
        return found

    monkeypatch.setattr(register, "find_master", find_then_wait)
    results: dict[str, Any] = {}

    def chunk(name: str) -> None:
        try:
            results[name] = run_chunk(settings, SITE, plan.batch_id, str(src), None, [name])
        except BaseException as exc:  # the assertion below names it
            results[name] = exc

    threads = [threading.Thread(target=chunk, args=(n,)) for n in NAMES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = {n: r for n, r in results.items() if isinstance(r, BaseException)}
    assert not errors, errors
    outcomes = sorted(r[0].outcome for r in results.values())
    assert outcomes == ["accepted", "duplicate", "duplicate"]

    report = close_batch(settings, plan)
    assert report.unaccounted == [] and report.accepted_files == 1 and report.pages == 2
    assert report.outcomes == {"accepted": 1, "duplicate": 2}
    with session_scope(ref.catalog_url) as s:
        winner = s.scalars(select(Master)).one()  # exactly one master
        assert winner.page_count == 2
        assert s.scalar(select(func.count()).select_from(Page)) == 2
        # a duplicate leaves no document of its own behind (as a sequential duplicate does)
        assert list(s.scalars(select(Document.source_file))) == [winner.original_name]
        dups = s.scalars(select(BatchFile).filter_by(outcome="duplicate")).all()
        assert {d.duplicate_of for d in dups} == {winner.original_name}
        assert s.get(ScanBatch, plan.batch_id).status == "complete"  # type: ignore[union-attr]


def test_sequential_duplicates_end_the_same_way(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    """The same three files in one chunk (one after the other) give the outcomes the concurrent chunks give."""
    settings, _ = site_settings
    src = tmp_path / "hot"
    data = badfiles.multipage_tiff(2)
    for n in NAMES:
        badfiles.write(src, n, data)
    report = ingest_batch_local(settings, SITE, str(src))
    assert report.outcomes == {"accepted": 1, "duplicate": 2} and report.unaccounted == []
    assert [d.duplicate_of for d in report.duplicates] == ["a.tif", "a.tif"]
