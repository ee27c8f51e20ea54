"""Flow ``reprocess``: rerun OCR and/or extraction + validation for pages chosen by a selector; report changes."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dangan.catalog.sites import get_site
from dangan.config import load_settings
from dangan.reprocess import Selector, diff, select_pages, snapshot
from flows.ocr import ocr_pages
from flows.params import SiteCode
from flows.runners import default_task_runner
from tasks.common import settings_payload

STAGES = ("ocr", "extract")


@flow(name="reprocess", task_runner=default_task_runner())
def reprocess(
    site: SiteCode,
    selector: dict[str, Any] | None = None,
    stages: list[str] | None = None,
    engine: str | None = None,
    device: str | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Rerun ``stages`` (default OCR then extraction/validation) with the current configuration."""
    cfg = load_settings(**(settings or {}))
    payload = settings_payload(cfg)
    ref = get_site(cfg, site)
    sel = Selector(**(selector or {}))
    todo = list(stages or STAGES)
    unknown = set(todo) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; choose from {STAGES}")
    page_ids = select_pages(ref.catalog_url, site, sel)
    get_run_logger().info("reprocess %d pages of site %s: %s", len(page_ids), site, ", ".join(todo))
    before = snapshot(ref.catalog_url, page_ids)
    if page_ids and "ocr" in todo:
        ocr_pages(
            site=site, selector={"page_ids": page_ids}, engine=engine, device=device, force=True, settings=payload
        )
    if before["document_ids"] and "extract" in todo:
        _extract(payload, site, before["document_ids"], cfg.ocr.chunk_size)
    changes = diff(before, snapshot(ref.catalog_url, page_ids))
    _publish(site, sel, todo, changes)
    return {"site": site, "selected_pages": len(page_ids), "stages": todo, **changes}


def _extract(payload: dict[str, Any], site: str, doc_ids: list[int], size: int) -> None:
    from tasks.extract import extract_validate_chunk_task

    futures = [
        extract_validate_chunk_task.submit(payload, site, doc_ids[i : i + size], index=n)
        for n, i in enumerate(range(0, len(doc_ids), size))
    ]
    for f in futures:
        f.result()


def _publish(site: str, sel: Selector, stages: list[str], c: dict[str, Any]) -> None:
    criteria = ", ".join(f"{k}={v}" for k, v in sel.model_dump(exclude_none=True).items()) or "all pages"
    models = ", ".join(c["ocr_models"]) or "—"
    counts = [c["pages"], len(c["ocr_changed_pages"]), len(c["field_changes"]), len(c["status_changes"])]
    body = [
        f"# Reprocess — site {site}\n",
        f"Selector: `{criteria}` · stages: {', '.join(stages)} · models now: {models}\n",
        "| pages | OCR text changed | fields changed | documents changing status |",
        "|---|---|---|---|",
        "| " + " | ".join(str(n) for n in counts) + " |",
    ]
    create_markdown_artifact(
        "\n".join(body) + "\n", key=f"reprocess-summary-{site}", description="Reprocessing summary"
    )
    if c["field_changes"]:
        create_table_artifact(
            c["field_changes"],
            key=f"reprocess-field-changes-{site}",
            description="Fields that differ before/after (personal values masked)",
        )
