"""Flow ``digitize``: ingest → OCR → extraction → validation → 四性检测, with one summary artifact.

Each stage reads its input from the catalog (not from the previous task's memory), so any stage can be
rerun alone and a crashed run resumes where the catalog says.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from dangan.catalog.sites import get_site
from dangan.config import load_settings
from dangan.fourprops import markdown as fourprops_markdown
from dangan.web.links import data_docs_link
from flows.events import emit_domain_event
from flows.ingest import ingest_batch
from flows.ocr import ocr_pages
from flows.params import SiteCode
from flows.review import start_reviews as start_review_runs
from flows.runners import default_task_runner
from tasks.common import settings_payload
from tasks.fourprops import four_properties_task


@flow(name="digitize", task_runner=default_task_runner())
def digitize(
    source: str,
    site: SiteCode,
    manifest: str | None = None,
    operator: str | None = None,
    ocr_engine: str | None = None,
    device: str | None = None,
    fan_out: bool = False,
    start_reviews: bool = True,
    ocr_deployment: str | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Digitize a scan batch end to end; each stage is a subflow or chunked tasks over the catalog.

    With ``start_reviews`` (and a ``review`` deployment), every document that needs review gets its own
    ``review-document`` run, waiting in the dashboard for a reviewer. ``ocr_deployment`` (e.g.
    ``ocr-pages/ocr-gpu``) runs the OCR stage as a flow run of that deployment, on its work pool (GPU
    workers), and reads what it did back from the catalog."""
    cfg = load_settings(**(settings or {}))
    payload = settings_payload(cfg)
    report: dict[str, Any] = {"site": site}
    # stages, not pages: each stage's own flow run or tasks publish the page-level progress
    progress: Any = create_progress_artifact(0.0, key=f"digitize-progress-{site}", description="stages done (of 4)")
    report["ingest"] = ingest_batch(
        source=source, site=site, manifest=manifest, operator=operator, fan_out=fan_out, settings=payload
    )
    batch_id = report["ingest"]["batch_id"]
    update_progress_artifact(progress, 25.0)
    ocr_params: dict[str, Any] = {
        "site": site,
        "selector": {"batch_id": batch_id},
        "engine": ocr_engine,
        "device": device,
    }
    if ocr_deployment:
        report["ocr"] = _ocr_on_deployment(ocr_deployment, {**ocr_params, "settings": payload}, cfg, site, batch_id)
    else:
        report["ocr"] = ocr_pages(**ocr_params, settings=payload)
    update_progress_artifact(progress, 50.0)
    report["validation"] = _extract_and_validate(payload, cfg, site, batch_id)
    update_progress_artifact(progress, 75.0)
    flagged = report["validation"].pop("flagged_ids")
    report["reviews"] = (
        start_review_runs(site, flagged, payload, batch_id) if start_reviews else {"started": 0, "reason": "off"}
    )
    four = four_properties_task(payload, site, batch_id)
    update_progress_artifact(progress, 100.0)
    report["four_properties"] = {
        "passed": four["passed"],
        "object_key": four["object_key"],
        "problems": sum(len(p["problems"]) for p in four["properties"].values()),
    }
    create_markdown_artifact(
        fourprops_markdown(four), key=f"four-properties-{site}", description=f"四性检测 batch {batch_id[:12]}"
    )
    if not four["passed"]:
        emit_domain_event("dangan.batch.four_properties_failed", site, batch_id, report["four_properties"])
    report["validation"]["data_docs"] = data_docs_link(cfg, site, report["validation"].get("data_docs"))
    create_markdown_artifact(_summary(report), key=f"digitize-summary-{site}", description="Digitization summary")
    create_table_artifact(_stage_rows(report), key=f"digitize-stages-{site}", description="Stages of this batch")
    return report


def _ocr_on_deployment(name: str, parameters: dict[str, Any], cfg: Any, site: str, batch_id: str) -> dict[str, Any]:
    """Run the OCR stage on another work pool and wait; its outcome is read from the catalog, not Prefect."""
    from prefect.deployments import run_deployment

    from dangan.ocr.summary import batch_ocr_summary

    run: Any = run_deployment(name, parameters=parameters, as_subflow=True, flow_run_name=f"ocr-{batch_id[:8]}")
    state = run.state.type.value if run.state else "UNKNOWN"
    if state != "COMPLETED":
        raise RuntimeError(f"OCR flow run {run.id} on deployment {name} ended {state}; rerun digitize to resume")
    return batch_ocr_summary(get_site(cfg, site).catalog_url, batch_id)


def _extract_and_validate(payload: dict[str, Any], cfg: Any, site: str, batch_id: str) -> dict[str, Any]:
    """Extraction + Great Expectations validation of the batch's documents, in chunks of documents."""
    from dangan.quality.chunks import person_chunks
    from tasks.extract import extract_validate_chunk_task

    chunks = person_chunks(get_site(cfg, site).catalog_url, batch_id, cfg.ocr.chunk_size)
    doc_ids = [d for chunk in chunks for d in chunk]
    futures = [extract_validate_chunk_task.submit(payload, site, chunk, index=n) for n, chunk in enumerate(chunks)]
    totals: dict[str, Any] = {
        "documents": len(doc_ids),
        "validated": 0,
        "needs_review": 0,
        "reasons": {},
        "data_docs": None,
        "flagged_ids": [],
    }
    for f in futures:
        result = f.result()["validate"]
        totals["validated"] += len(result["validated"])
        totals["needs_review"] += len(result["needs_review"])
        totals["flagged_ids"] += list(result["needs_review"])
        totals["data_docs"] = result.get("data_docs") or totals["data_docs"]
        for doc_id, codes in result["reasons"].items():
            for code in codes:
                totals["reasons"][code] = totals["reasons"].get(code, 0) + 1
            if codes:
                emit_domain_event("dangan.validation.failed", site, f"document-{doc_id}", {"codes": ",".join(codes)})
    return totals


def _summary(r: dict[str, Any]) -> str:
    ing, ocr, val, four, site = r["ingest"], r["ocr"], r["validation"], r["four_properties"], r["site"]
    devices = ", ".join(ocr["devices"]) or "—"
    rows = [
        f"# Digitization — site {site}, batch `{ing['batch_id'][:12]}`\n",
        "| stage | result | details |",
        "|---|---|---|",
        f"| ingest | {ing['accepted_files']}/{ing['files']} files, {ing['pages']} pages | "
        f"{len(ing['quarantined'])} quarantined, {len(ing['duplicates'])} duplicates "
        f"(artifact `ingest-summary-{site}`) |",
        f"| OCR | {ocr['ok']}/{ocr['pages']} pages | {ocr['engine']} {ocr['model']} on {devices}, "
        f"{ocr['documents_pdf']} searchable PDFs (artifact `ocr-summary-{site}`) |",
        f"| extraction + validation | {val['validated']}/{val['documents']} documents validated | "
        f"{val['needs_review']} need review ({_reviews(r)}); Data Docs: "
        f"{_link(val['data_docs'])} |",
        f"| 四性检测 | {'pass' if four['passed'] else 'FAIL'} | {four['problems']} problems "
        f"(artifact `four-properties-{site}`) |",
    ]
    return "\n".join(rows) + "\n"


def _stage_rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    ing, ocr, val, four = r["ingest"], r["ocr"], r["validation"], r["four_properties"]
    return [
        {"stage": "ingest", "done": ing["accepted_files"], "of": ing["files"], "flagged": len(ing["quarantined"])},
        {"stage": "ocr", "done": ocr["ok"], "of": ocr["pages"], "flagged": len(ocr["failed"])},
        {"stage": "validation", "done": val["validated"], "of": val["documents"], "flagged": val["needs_review"]},
        {"stage": "four-properties", "done": int(four["passed"]), "of": 1, "flagged": four["problems"]},
    ]


def _reviews(r: dict[str, Any]) -> str:
    started = r["reviews"]["started"]
    if started:
        return f"{started} review runs wait in the dashboard: flow `review-document`"
    return f"`dangan review --site {r['site']}`"


def _link(url: str | None) -> str:
    """A served ``dangan serve`` link (:func:`dangan.web.links.data_docs_link`); never a path on the server."""
    if not url or not url.startswith(("http://", "https://")):
        return "—"
    return f"[report]({url})"
