"""Flow ``digitize``: ingest → OCR → (extraction → validation → 四性检测 as they land), one summary artifact."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from dangan.config import load_settings
from flows.ingest import ingest_batch
from flows.ocr import ocr_pages
from tasks.common import settings_payload


@flow(name="digitize")
def digitize(
    source: str,
    site: str,
    manifest: str | None = None,
    operator: str | None = None,
    ocr_engine: str | None = None,
    device: str | None = None,
    fan_out: bool = False,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Digitize a scan batch end to end; each stage is a subflow that reads its input from the catalog."""
    cfg = load_settings(**(settings or {}))
    payload = settings_payload(cfg)
    report: dict[str, Any] = {"site": site}
    report["ingest"] = ingest_batch(
        source=source, site=site, manifest=manifest, operator=operator, fan_out=fan_out, settings=payload
    )
    report["ocr"] = ocr_pages(
        site=site,
        selector={"batch_id": report["ingest"]["batch_id"]},
        engine=ocr_engine,
        device=device,
        settings=payload,
    )
    create_markdown_artifact(_summary(report), key=f"digitize-summary-{site}", description="Digitization summary")
    return report


def _summary(r: dict[str, Any]) -> str:
    ing, ocr, site = r["ingest"], r["ocr"], r["site"]
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
    ]
    return "\n".join(rows) + "\n"
