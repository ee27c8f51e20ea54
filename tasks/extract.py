"""Prefect tasks for extraction and validation: one task per chunk of documents, transient retries only."""

from __future__ import annotations

from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.extract.store import extract_documents
from dangan.quality.rules import data_docs_dir, rules_from
from tasks.common import TRANSIENT_RETRY, settings_from


@task(
    name="extract-chunk",
    **TRANSIENT_RETRY,
    task_run_name="extract-chunk-{index}",
)
def extract_chunk_task(settings: dict[str, Any], site: str, document_ids: list[int], index: int = 0) -> dict[str, Any]:
    """Extract fields of a chunk of documents from their current OCR results (safe to rerun)."""
    cfg = settings_from(settings)
    return extract_documents(get_site(cfg, site).catalog_url, site, document_ids)


@task(
    name="validate-chunk",
    **TRANSIENT_RETRY,
    task_run_name="validate-chunk-{index}",
)
def validate_chunk_task(settings: dict[str, Any], site: str, document_ids: list[int], index: int = 0) -> dict[str, Any]:
    """Validate a chunk of extracted documents; Data Docs go to ``<data_dir>/data_docs/<site>``."""
    from dangan.quality.store import validate_documents

    cfg = settings_from(settings)
    return validate_documents(
        get_site(cfg, site).catalog_url,
        site,
        document_ids,
        rules=rules_from(cfg),
        docs_dir=data_docs_dir(cfg, site),
    )


@task(
    name="extract-validate-chunk",
    **TRANSIENT_RETRY,
    task_run_name="extract-validate-chunk-{index}",
)
def extract_validate_chunk_task(
    settings: dict[str, Any], site: str, document_ids: list[int], index: int = 0
) -> dict[str, Any]:
    """Extract then validate a chunk; returns ``{"extract": summary, "validate": summary}``."""
    from dangan.quality.store import validate_documents

    cfg = settings_from(settings)
    url = get_site(cfg, site).catalog_url
    extracted = extract_documents(url, site, document_ids)
    ids = [item["document_id"] for item in extracted["extracted"]]
    validated = validate_documents(url, site, ids, rules=rules_from(cfg), docs_dir=data_docs_dir(cfg, site))
    return {"extract": extracted, "validate": validated}
