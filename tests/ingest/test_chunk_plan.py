"""Fanned-out chunk runs get a plan token and a number, and read their file names from the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.ingest.batch import close_batch, open_batch, run_chunk
from dangan.ingest.chunk_plan import PLANNED, chunk_names, record_chunk_plan

SITE = "330106"


@pytest.fixture
def site_settings(tmp_path: Path, catalog_url: str):  # type: ignore[no-untyped-def]
    """The site on SQLite and on PostgreSQL (the chunk query reads JSON paths, which differ by database)."""
    settings = load_settings(data_dir=tmp_path / "data")
    return settings, add_site(settings, SITE, "杭州市西湖区", catalog_url=catalog_url)


def test_chunks_read_back_in_plan_order_and_replans_do_not_mix(batch_copy: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    plan = open_batch(settings, SITE, str(batch_copy / "scans"), str(batch_copy / "manifest.csv"))
    chunks = plan.chunks(3)
    token = record_chunk_plan(ref.catalog_url, plan.batch_id, chunks)
    assert [chunk_names(ref.catalog_url, plan.batch_id, token, i) for i in range(len(chunks))] == chunks
    assert chunk_names(ref.catalog_url, plan.batch_id, token, len(chunks)) == []  # past the end
    # a re-run of the batch with another chunk size: the old token no longer finds the re-planned files
    again = record_chunk_plan(ref.catalog_url, plan.batch_id, plan.chunks(5))
    assert again != token and chunk_names(ref.catalog_url, plan.batch_id, token, 0) == []
    assert chunk_names(ref.catalog_url, plan.batch_id, again, 0) == plan.files[:5]


def test_a_chunk_that_never_ran_leaves_its_files_unaccounted(batch_copy: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    plan = open_batch(settings, SITE, str(batch_copy / "scans"), str(batch_copy / "manifest.csv"))
    chunks = plan.chunks(4)
    token = record_chunk_plan(ref.catalog_url, plan.batch_id, chunks)
    for i in range(1, len(chunks)):  # chunk 0's run "died" before it started
        run_chunk(
            settings,
            SITE,
            plan.batch_id,
            plan.source,
            plan.manifest,
            chunk_names(ref.catalog_url, plan.batch_id, token, i),
        )
    report = close_batch(settings, plan)
    assert report.unaccounted == chunks[0]
    assert report.outcomes[PLANNED] == len(chunks[0])  # shown as planned, never as done
