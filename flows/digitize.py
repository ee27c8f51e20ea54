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
from dangan.config import Settings
from dangan.digitize import DigitizeReport, FourPropertiesSummary, ReviewRuns
from dangan.fourprops import markdown as fourprops_markdown
from dangan.ocr.summary import OcrReport
from dangan.quality.report import ValidationReport
from dangan.reports import digitize_markdown, digitize_stage_rows
from dangan.web.links import data_docs_link
from flows.events import emit_domain_event
from flows.ingest import ingest_batch
from flows.ocr import ocr_pages
from flows.params import PageSelector, SiteCode, settings_for
from flows.review import start_reviews as start_review_runs
from flows.runners import default_task_runner
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
    config: str | None = None,
) -> DigitizeReport:
    """Digitize a scan batch end to end; each stage is a subflow or chunked tasks over the catalog.

    With ``start_reviews`` (and a ``review`` deployment), every document that needs review gets its own
    ``review-document`` run, waiting in the dashboard for a reviewer. ``ocr_deployment`` (e.g.
    ``ocr-pages/ocr-gpu``) runs the OCR stage as a flow run of that deployment, on its work pool (GPU
    workers), and reads what it did back from the catalog. ``config``: where the settings are (see
    :func:`flows.params.settings_for`); every stage's flow or deployment run gets the same reference."""
    cfg = settings_for(config)
    # stages, not pages: each stage's own flow run or tasks publish the page-level progress
    progress: Any = create_progress_artifact(0.0, key=f"digitize-progress-{site}", description="stages done (of 4)")
    ingest = ingest_batch(
        source=source, site=site, manifest=manifest, operator=operator, fan_out=fan_out, config=config
    )
    batch_id = ingest.batch_id
    update_progress_artifact(progress, 25.0)
    selector = PageSelector(batch_id=batch_id)
    if ocr_deployment:
        parameters = {
            "site": site,
            "selector": selector.model_dump(mode="json", exclude_none=True),
            "engine": ocr_engine,
            "device": device,
            "config": config,
        }
        ocr = _ocr_on_deployment(ocr_deployment, parameters, cfg, site, batch_id)
    else:
        ocr = ocr_pages(site=site, selector=selector, engine=ocr_engine, device=device, config=config)
    update_progress_artifact(progress, 50.0)
    validation = _extract_and_validate(cfg, site, batch_id)
    update_progress_artifact(progress, 75.0)
    reviews = (
        ReviewRuns.model_validate(start_review_runs(site, validation.flagged_ids, config, batch_id))
        if start_reviews
        else ReviewRuns(started=0, reason="off")
    )
    four = four_properties_task(cfg, site, batch_id)
    update_progress_artifact(progress, 100.0)
    verdict = FourPropertiesSummary(
        passed=four["passed"],
        object_key=four["object_key"],
        problems=sum(len(p["problems"]) for p in four["properties"].values()),
    )
    create_markdown_artifact(
        fourprops_markdown(four), key=f"four-properties-{site}", description=f"四性检测 batch {batch_id[:12]}"
    )
    if not verdict.passed:
        emit_domain_event("dangan.batch.four_properties_failed", site, batch_id, verdict.model_dump())
    served = validation.model_copy(update={"data_docs": data_docs_link(cfg, site, validation.data_docs)})
    report = DigitizeReport(
        site=site, ingest=ingest, ocr=ocr, validation=served, reviews=reviews, four_properties=verdict
    )
    create_markdown_artifact(
        digitize_markdown(report), key=f"digitize-summary-{site}", description="Digitization summary"
    )
    create_table_artifact(
        digitize_stage_rows(report), key=f"digitize-stages-{site}", description="Stages of this batch"
    )
    return report


def _ocr_on_deployment(name: str, parameters: dict[str, Any], cfg: Settings, site: str, batch_id: str) -> OcrReport:
    """Run the OCR stage on another work pool and wait; its outcome is read from the catalog, not Prefect."""
    from prefect.deployments import run_deployment

    from dangan.ocr.summary import batch_ocr_summary

    run: Any = run_deployment(name, parameters=parameters, as_subflow=True, flow_run_name=f"ocr-{batch_id[:8]}")
    state = run.state.type.value if run.state else "UNKNOWN"
    if state != "COMPLETED":
        raise RuntimeError(f"OCR flow run {run.id} on deployment {name} ended {state}; rerun digitize to resume")
    return batch_ocr_summary(get_site(cfg, site).catalog_url, batch_id)


def _extract_and_validate(cfg: Settings, site: str, batch_id: str) -> ValidationReport:
    """Extraction + Great Expectations validation of the batch's documents, in chunks of documents."""
    from dangan.quality.chunks import person_chunks
    from tasks.extract import extract_validate_chunk_task

    chunks = person_chunks(get_site(cfg, site).catalog_url, batch_id, cfg.ocr.chunk_size)
    doc_ids = [d for chunk in chunks for d in chunk]
    futures = [extract_validate_chunk_task.submit(cfg, site, chunk, index=n) for n, chunk in enumerate(chunks)]
    results = [f.result()["validate"] for f in futures]
    for result in results:
        for doc_id, codes in result["reasons"].items():
            if codes:
                emit_domain_event("dangan.validation.failed", site, f"document-{doc_id}", {"codes": ",".join(codes)})
    return ValidationReport.from_chunks(len(doc_ids), results)
