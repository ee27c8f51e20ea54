"""Prefect task for extraction and validation: one task per chunk of documents, transient retries only."""

from __future__ import annotations

from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.extract.store import extract_documents
from dangan.quality.rules import data_docs_dir, rules_from
from dangan.retry import STORE
from tasks.common import task_retries


@task(name="extract-validate-chunk", task_run_name="extract-validate-chunk-{index}", **task_retries(STORE))
def extract_validate_chunk_task(
    settings: Settings, site: str, document_ids: list[int], index: int = 0
) -> dict[str, Any]:
    """Extract then validate a chunk (safe to rerun); returns ``{"extract": summary, "validate": summary}``.

    Data Docs go to ``<data_dir>/data_docs/<site>``."""
    from dangan.quality.store import validate_documents

    url = get_site(settings, site).catalog_url
    extracted = extract_documents(url, site, document_ids)
    ids = [item["document_id"] for item in extracted["extracted"]]
    validated = validate_documents(url, site, ids, rules=rules_from(settings), docs_dir=data_docs_dir(settings, site))
    return {"extract": extracted, "validate": validated}
