"""``dangan extract``, ``dangan review`` and ``dangan export records``; wired in by ``register(app)``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.support import fail
from dangan.config import Settings, load_settings
from dangan.errors import DanganError
from dangan.extract.model import DocumentJson
from dangan.pii import Masker

console = Console()
err_console = Console(stderr=True)
export_app = typer.Typer(help="Export extracted data.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    """Settings loaded at the edge; honours the root command's ``--data-dir`` when there is one."""
    root = ctx.find_root()
    params = root.params if root is not ctx else {}
    return load_settings(data_dir=params.get("data_dir"), actor=params.get("actor"))


_fail = fail


def _field_table(title: str, result: DocumentJson) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("field", "value", "confidence", "flags"):
        table.add_column(col)
    for name, f in result["fields"].items():
        table.add_row(name, str(f["value"]), f"{f['confidence']:.3f}", ",".join(f["flags"]))
    return table


def extract(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="scan files (TIFF, JPEG, PNG, PDF), one document each")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per document")] = False,
) -> None:
    """OCR and extract fields from scan files, without a catalog (a quick check of forms and labels)."""
    from dangan.extract.images import extract_files
    from dangan.ocr import OcrOptions, create_engine

    s = _settings(ctx)
    try:
        engine = create_engine(OcrOptions(engine=s.ocr.engine, device=s.ocr.device, model_dir=s.ocr.model_dir))
    except DanganError as exc:
        _fail(exc)
    failed = 0
    for result in extract_files(paths, engine):
        failed += "error" in result
        if as_json:
            print(json.dumps(result, ensure_ascii=False))
        elif "error" in result:
            err_console.print(f"{result['path']}: [red]{result['error']['code']}[/] {result['error']['message']}")
        else:
            console.print(_field_table(f"{result['path']} · {result['form_type']}", result))
            if result["contributions"]:
                console.print(f"{len(result['contributions'])} contribution rows")
    if failed:
        raise typer.Exit(1)


def _review_table(view: dict[str, Any], masker: Masker | None = None) -> Table:
    from dangan.extract.review import shown
    from flows.review import source_file_shown

    table = Table(
        title=f"document {view['document_id']} · {view['form_type']} · {source_file_shown(view, masker)}",
        title_justify="left",
    )
    for col in ("field", "value", "confidence", "reasons", "image (box)"):
        table.add_column(col)
    for item in view["fields"]:
        if not item["reasons"]:
            continue
        conf = "" if item["confidence"] is None else f"{item['confidence']:.3f}"
        image = f"{item['image']} {item['box']}" if item["image"] else str(item["box"] or "")
        table.add_row(item["name"], str(shown(item["name"], item["value"])), conf, ",".join(item["reasons"]), image)
    return table


def review(
    ctx: typer.Context,
    site: Annotated[str, typer.Option(help="site code")],
    document: Annotated[list[int] | None, typer.Option(help="document id (default: every document to review)")] = None,
) -> None:
    """Review flagged documents: see the reasons, type corrections (Enter keeps a value), validate again."""
    from sqlalchemy import select

    from dangan.catalog.db import session_scope
    from dangan.catalog.models import Document
    from dangan.catalog.sites import get_site
    from dangan.extract.review import apply_corrections, review_items
    from dangan.quality.rules import data_docs_dir, rules_from
    from dangan.reports import document_maskers
    from dangan.storage.factory import open_store

    s = _settings(ctx)
    try:
        ref = get_site(s, site)
        store = open_store(ref.store_url)
        ids = list(document or [])
        if not ids:
            with session_scope(ref.catalog_url) as db:
                ids = list(
                    db.scalars(select(Document.id).where(Document.site_code == site, Document.status == "needs_review"))
                )
        if not ids:
            console.print("nothing to review")
            return
        maskers = document_maskers(ref.catalog_url, ids)
        for doc_id in ids:
            view = review_items(ref.catalog_url, doc_id, store=store)
            console.print(_review_table(view, maskers.get(doc_id)))
            for reason in view["reasons"]:
                console.print(f"  [yellow]{reason['code']}[/] {reason['message']} {reason.get('details') or ''}")
            corrections: dict[str, str | None] = {}
            for item in view["fields"]:
                if item["reasons"]:
                    answer = typer.prompt(f"{item['name']} (Enter keeps)", default="", show_default=False)
                    if answer.strip():
                        corrections[item["name"]] = answer.strip()
            accept = typer.confirm("Accept the remaining reasons if validation still fails?", default=False)
            result = apply_corrections(
                ref.catalog_url,
                doc_id,
                corrections,
                s.actor,
                accept=accept,
                rules=rules_from(s),
                docs_dir=data_docs_dir(s, site),
            )
            changed, reasons = ", ".join(result["changed"]) or "-", ", ".join(result["reasons"]) or "-"
            console.print(f"document {doc_id}: [bold]{result['status']}[/] · changed {changed} · reasons {reasons}")
    except DanganError as exc:
        _fail(exc)


@export_app.command("records")
def export_records(
    ctx: typer.Context,
    site: Annotated[str, typer.Option(help="site code")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="output file (default: standard output)")] = None,
    full_ids: Annotated[
        bool,
        typer.Option("--full-ids", "--reveal", help="export personal fields in clear (needs pii.reveal and --reason)"),
    ] = False,
    reason: Annotated[str | None, typer.Option(help="why personal data is shown in clear (audited)")] = None,
) -> None:
    """One record per document: fields, contributions, validation status and reasons (personal fields masked)."""
    from dangan.access import audit, authorise_reveal
    from dangan.catalog.sites import get_site
    from dangan.extract.export import FORMATS, iter_records, write_records

    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    s = _settings(ctx)
    try:
        ref = get_site(s, site)
        who = authorise_reveal(s, ref.catalog_url, site, "exported records", reason) if full_ids else None
    except DanganError as exc:
        _fail(exc)
    shown = [0]

    def counted(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for rec in records:
            yield rec
            shown[0] += 1

    outcome = "failed"
    try:
        records = iter_records(ref.catalog_url, site, full_ids=full_ids)
        if not full_ids:
            records = _masked_source_files(ref.catalog_url, records)
        if out is None:
            count = write_records(counted(records), sys.stdout, fmt)
        else:
            with out.open("w", encoding="utf-8", newline="") as fh:
                count = write_records(counted(records), fh, fmt)
        outcome = "ok"
    except DanganError as exc:
        _fail(exc)
    finally:
        if who is not None:  # who saw how many records in clear, whatever happened after the start
            details = {"what": "exported records", "records": shown[0], "format": fmt, "to": str(out or "stdout")}
            audit(
                ref.catalog_url,
                actor=who,
                action="pii.reveal",
                entity_type="site",
                entity_id=site,
                site_code=site,
                outcome=outcome,
                details=details,
            )
    err_console.print(f"{count} records exported" + (f" to {out}" if out else ""))


def _masked_source_files(catalog_url: str, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Records with ``source_file`` masked (scanner file names carry names and IDs), in batches of documents."""
    from itertools import islice

    from dangan.reports import document_maskers

    while chunk := list(islice(records, 200)):
        maskers = document_maskers(catalog_url, [r["document_id"] for r in chunk])
        for rec in chunk:
            mask = maskers.get(rec["document_id"]) or Masker()
            # the record's own (unmasked) name field also names the person, whatever the catalog links
            yield {**rec, "source_file": mask.with_values(names=[rec["fields"].get("name")])(rec["source_file"])}


def register(app: typer.Typer) -> None:
    """Add ``extract``, ``review`` and the ``export`` group to the ``dangan`` command line."""
    app.command("extract")(extract)
    app.command("review")(review)
    app.add_typer(export_app, name="export")
