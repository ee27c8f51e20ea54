"""Flow ``reprocess``: rerun OCR and/or extraction + validation for pages chosen by a selector; report changes."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.errors import ConfigError
from dangan.ocr.stage import engine_for, pages_needing_ocr
from dangan.reprocess import Selector, diff, select_pages, snapshot
from flows.params import SiteCode, Stage, settings_for
from flows.runners import default_task_runner
from tasks.ocr import document_pdfs_task, ocr_options
from tasks.reprocess import reprocess_ocr_chunk_task

STAGES = tuple(Stage)  # in the order they run


@flow(name="reprocess", task_runner=default_task_runner())
def reprocess(
    site: SiteCode,
    selector: Selector | None = None,
    stages: list[Stage] | None = None,
    engine: str | None = None,
    device: str | None = None,
    config: str | None = None,
    preview: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Rerun ``stages`` (default OCR then extraction/validation) with the current configuration.

    A new OCR reading becomes a page's current reading only when it scores better than the current one by the
    page's quality measures (``dangan.ocr.quality``); otherwise it is kept as a non-current version, reported
    with ``REPROCESS_KEPT_CURRENT``. ``force`` makes every successful new reading current (audited with the
    actor). ``preview`` reads the pages and reports what would change, recording nothing (no extraction).
    ``config``: where the settings are (see :func:`flows.params.settings_for`).
    """
    cfg = settings_for(config)
    ref = get_site(cfg, site)
    sel = selector or Selector()
    todo = [s for s in STAGES if s in (stages or STAGES)]  # each once, in running order
    if preview and Stage.OCR not in todo:
        raise ConfigError(
            "a preview compares a new OCR reading with the current one; the ocr stage is not selected",
            hint="Add --stage ocr (or leave --stage out) to preview, or drop --preview to re-extract.",
            stages=todo,
        )
    if preview:
        todo = [Stage.OCR]  # a preview records nothing, so there is nothing new to extract from
    page_ids = select_pages(ref.catalog_url, site, sel)
    logger = get_run_logger()
    logger.info("reprocess %d pages of site %s: %s%s", len(page_ids), site, ", ".join(todo), _mode(preview, force))
    before = snapshot(ref.catalog_url, page_ids)
    pages: list[dict[str, Any]] = []
    if page_ids and Stage.OCR in todo:
        pages = _reread(cfg, site, page_ids, engine, device, preview=preview, force=force)
    summary = _summary(pages)
    if preview:
        _publish_pages(site, pages, preview=True)
        return {"site": site, "selected_pages": len(page_ids), "stages": todo, "preview": True, **summary}
    replaced_docs = sorted({p["document_id"] for p in pages if p["made_current"] and p["document_id"]})
    if replaced_docs:  # their searchable PDFs were made from the readings just replaced
        document_pdfs_task(cfg, site, replaced_docs)
    if before["document_ids"] and Stage.EXTRACT in todo:
        _extract(cfg, site, before["document_ids"], cfg.ocr.chunk_size)
    changes = diff(before, snapshot(ref.catalog_url, page_ids))
    _publish(site, sel, todo, changes)
    if pages:
        _publish_pages(site, pages, preview=False)
    return {"site": site, "selected_pages": len(page_ids), "stages": todo, "preview": False, **summary, **changes}


def _mode(preview: bool, force: bool) -> str:
    return " (preview: nothing recorded)" if preview else " (forced: new readings made current)" if force else ""


def _reread(
    cfg: Settings,
    site: str,
    page_ids: list[int],
    engine: str | None,
    device: str | None,
    *,
    preview: bool,
    force: bool,
) -> list[dict[str, Any]]:
    """New readings of the pages ready for OCR, judged (and, unless previewing, recorded) chunk by chunk."""
    ref = get_site(cfg, site)
    options = ocr_options(cfg, engine, device)
    identity = engine_for(options).identity()  # loads the models once here, as ocr_pages does
    ready = pages_needing_ocr(ref.catalog_url, site, identity, page_ids=page_ids, force=True)
    size = cfg.ocr.chunk_size
    futures = [
        reprocess_ocr_chunk_task.submit(cfg, site, ready[i : i + size], options, preview=preview, force=force, index=n)
        for n, i in enumerate(range(0, len(ready), size))
    ]
    return [page for f in futures for page in f.result()]


def _summary(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-page outcomes plus the pages whose new reading was kept off (code and reason, for the report)."""
    kept = [
        {"page_id": p["page_id"], "code": p["code"], "reason": p["decision"]} for p in pages if not p["made_current"]
    ]
    return {"pages_judged": pages, "kept_current": kept, "replaced": [p["page_id"] for p in pages if p["made_current"]]}


def _extract(cfg: Settings, site: str, doc_ids: list[int], size: int) -> None:
    from tasks.extract import extract_validate_chunk_task

    futures = [
        extract_validate_chunk_task.submit(cfg, site, doc_ids[i : i + size], index=n)
        for n, i in enumerate(range(0, len(doc_ids), size))
    ]
    for f in futures:
        f.result()


def _publish(site: str, sel: Selector, stages: list[Stage], c: dict[str, Any]) -> None:
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


def page_rows(pages: list[dict[str, Any]], *, preview: bool = True) -> list[dict[str, str]]:
    """One display row per page: current → new engine, score, characters, lines, fields/rows, changes, decision.

    Shared by the flow's artifact and the CLI table; the change lines are already masked (``quality.shown``).
    """

    def pair(p: dict[str, Any], key: str) -> str:
        cur = p["current"][key] if p["current"] else "—"
        return f"{cur} → {p['new'][key]}"

    def decision(label: str) -> str:
        return label if preview else label.replace("would replace", "replaced")

    rows = []
    for p in pages:
        cur_score = "—" if p["current_score"] is None else f"{p['current_score']:.1f}"
        rows.append(
            {
                "page": str(p["page_id"]),
                "document": str(p["document_id"] or "—"),
                "engine": pair(p, "engine"),
                "score": f"{cur_score} → {p['new_score']:.1f}",
                "characters": pair(p, "chars"),
                "lines": pair(p, "lines"),
                "fields / rows": (f"{p['current']['fields']}/{p['current']['rows']}" if p["current"] else "—")
                + f" → {p['new']['fields']}/{p['new']['rows']}",
                "what changes": "; ".join(p["changes"]) or "nothing",
                "decision": f"{decision(p['decision'])} ({p['code']})",
            }
        )
    return rows


def _publish_pages(site: str, pages: list[dict[str, Any]], *, preview: bool) -> None:
    what = "would change (preview: nothing recorded)" if preview else "was decided"
    create_table_artifact(
        page_rows(pages, preview=preview) or [{"page": "—", "decision": "no page was ready for OCR"}],
        key=f"reprocess-{'preview' if preview else 'readings'}-{site}",
        description=f"New OCR readings per page: what {what}, current vs new (personal values masked)",
    )
