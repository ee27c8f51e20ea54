"""``dangan``: the operator's command line. Every long command shows progress; summaries are tables."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.support import State, cli_settings, console, err_console, fail
from dangan.config import Settings, apply_offline_environment, load_settings
from dangan.errors import DanganError
from flows import ephemeral
from flows.params import Stage

if TYPE_CHECKING:  # the engine library loads lazily: `dangan --help` stays fast
    from dangan.digitize import DigitizeReport
    from dangan.ingest.report import IngestReport
    from dangan.ocr.engines.base import EngineIdentity
    from dangan.ocr.summary import OcrReport

app = typer.Typer(
    help="dangan (档案): digitize and transfer social-insurance archives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
sites_app = typer.Typer(help="Manage county sites (GB/T 2260 codes).", no_args_is_help=True)
app.add_typer(sites_app, name="sites")
DEMO_SITE = ("330106", "杭州市西湖区社会保险档案室")


def _settings() -> Settings:
    return cli_settings()


@app.callback()
def main(
    data_dir: Annotated[Path | None, typer.Option(help="data folder (default ./.dangan or DANGAN_DATA_DIR)")] = None,
    actor: Annotated[
        str | None, typer.Option(help="acting operator for permissions and audit (default: settings actor)")
    ] = None,
) -> None:
    """Load settings once; keep Prefect local and offline."""
    State.settings = load_settings(data_dir=data_dir, actor=actor)
    apply_offline_environment(State.settings)
    ephemeral.install()  # a killed command must not leave Prefect's temporary API server running


_fail = fail


@app.command()
def init(
    site: Annotated[str | None, typer.Option(help="also register this site code")] = None,
    name: Annotated[str | None, typer.Option(help="name of the site")] = None,
) -> None:
    """Create or upgrade the catalog schema and storage locations (safe to run twice)."""
    from dangan.catalog.schema import upgrade
    from dangan.catalog.sites import add_site, list_sites

    s = _settings()
    try:
        rev = upgrade(s.home_catalog_url)
        if site:
            add_site(s, site, name or site)
        for ref in list_sites(s):
            upgrade(ref.catalog_url)
            _open_store(ref.store_url)
        _open_store(s.default_store_url)
    except DanganError as exc:
        _fail(exc)
    console.print(f"catalog at schema [bold]{rev}[/] · data folder {s.data_dir}")


def _open_store(url: str) -> Any:
    from dangan.storage.factory import open_store

    return open_store(url)


@sites_app.command("add")
def sites_add(
    code: Annotated[str, typer.Argument(help="6-digit GB/T 2260 code, e.g. 330106")],
    name: Annotated[str, typer.Option(help="site name, e.g. 杭州市西湖区")],
    store: Annotated[str | None, typer.Option(help="object store URL (folder or s3://bucket/prefix?...)")] = None,
    database: Annotated[str | None, typer.Option(help="catalog URL (default: the home catalog)")] = None,
    update: Annotated[bool, typer.Option(help="change a registered site's locations (needs sites.admin)")] = False,
    force: Annotated[bool, typer.Option(help="re-point even if the new location lacks the site's objects")] = False,
) -> None:
    """Register a county site (or rename it; moving its locations needs --update). Audited."""
    from dangan.catalog.sites import add_site

    try:
        ref = add_site(_settings(), code, name, store_url=store, catalog_url=database, update=update, force=force)
        _open_store(ref.store_url)
    except DanganError as exc:
        _fail(exc)
    console.print(f"site [bold]{code}[/] {name} registered")


@sites_app.command("list")
def sites_list() -> None:
    """List registered sites with where their catalog and objects live."""
    from dangan.catalog.db import safe_url
    from dangan.catalog.sites import list_sites
    from dangan.storage.factory import describe_store_url

    table = Table(title="Sites", title_justify="left")
    for col in ("code", "name", "catalog", "object store"):
        table.add_column(col)
    for ref in list_sites(_settings()):
        table.add_row(ref.code, ref.name, safe_url(ref.catalog_url), describe_store_url(ref.store_url))
    console.print(table)


@app.command()
def status(
    site: Annotated[str, typer.Option(help="site code")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Counts of batches, pages by status, quality issues by code and transfers by state."""
    from dangan.catalog.sites import get_site
    from dangan.catalog.status import site_status
    from flows.render import counts_table

    try:
        ref = get_site(_settings(), site)
    except DanganError as exc:
        _fail(exc)
    data = site_status(ref.catalog_url, site)
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    for key, title in (
        ("batches", "Batches"),
        ("pages", "Pages by status"),
        ("quality_issues", "Quality issues by code"),
        ("quarantined", "Quarantined files by code"),
        ("transfers", "Transfers by state"),
        ("outputs", "OCR outputs (results per page, searchable PDFs per document)"),
    ):
        console.print(counts_table(f"{title} · site {site}", data[key]))
    gaps = data["outputs"]
    if gaps["ocr_missing"] or gaps["pdf_missing"] or gaps["pdf_stale"]:
        err_console.print(
            f"[yellow]{gaps['ocr_missing']} page(s) lost their OCR result, {gaps['pdf_missing']} searchable PDF(s) "
            f"missing, {gaps['pdf_stale']} stale.[/] What to do: rerun `dangan digitize` on the batch (or the "
            "ocr-pages flow): it builds what is missing. 缺少双层PDF：请重新运行数字化流程补建。"
        )


@app.command()
def samples(
    out: Annotated[Path, typer.Option(help="folder to write the sample batch into")],
    persons: Annotated[int, typer.Option(min=1, help="number of insured persons")] = 3,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same batch)")] = 0,
    site: Annotated[str, typer.Option(help="site code written into the manifest")] = DEMO_SITE[0],
    degrade: Annotated[bool, typer.Option(help="add scanner degradations (skew, blur, borders...)")] = True,
    bad_files: Annotated[bool, typer.Option(help="add deliberately bad files (blank, empty, truncated)")] = True,
) -> None:
    """Render realistic scanned social-insurance forms with a manifest and ground truth."""
    from dangan.samples import generate_samples

    with console.status(f"rendering sample scans for {persons} persons…"):
        batch = generate_samples(out, persons, seed=seed, site=site, degrade=degrade, bad_files=bad_files)
    console.print(f"{len(batch.files)} files · manifest {batch.manifest_path} · ground truth {batch.ground_truth_dir}")


def _run_with_progress(label: str, total: int, poll: Any, fn: Any) -> Any:
    """Run ``fn()`` in this thread while a rich progress bar follows ``poll()`` (catalog counts)."""
    stop = threading.Event()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task_id = progress.add_task(label, total=total)

        def follow() -> None:
            while not stop.wait(0.5):
                with contextlib.suppress(Exception):  # the catalog may be busy; the next poll will tell
                    progress.update(task_id, completed=min(poll(), total))

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        try:
            result = fn()
        finally:
            stop.set()
            watcher.join()
        progress.update(task_id, completed=total)
    return result


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="scanner folder, or s3://bucket/prefix?endpoint=… inbox")],
    site: Annotated[str, typer.Option(help="site code")],
    manifest: Annotated[Path | None, typer.Option(help="batch manifest CSV")] = None,
    operator: Annotated[str | None, typer.Option(help="who scanned the batch")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="files per Prefect task")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the batch report as JSON (file names masked)")] = False,
) -> None:
    """Ingest scanner output: fixity, de-duplication, QA gates, OCR derivatives, quarantine."""
    report = _ingest(source, site, manifest, operator, chunk_size)
    if as_json:
        print(json.dumps(report.public_dict(), ensure_ascii=False))
    else:
        from flows.render import print_ingest_report

        print_ingest_report(console, report)
    if report.unaccounted:
        raise typer.Exit(1)


def _ingest(
    source: str, site: str, manifest: Path | None, operator: str | None, chunk_size: int | None
) -> IngestReport:
    from dangan.catalog.sites import get_site
    from dangan.ingest.batch import files_done, source_key
    from dangan.ingest.source import open_source
    from flows.ingest import ingest_batch
    from flows.params import config_ref

    s = _settings()
    try:
        ref = get_site(s, site)
        src = open_source(source, exclude={manifest} if manifest else None)
        total = len(src.list())
    except DanganError as exc:
        _fail(exc)
    key = source_key(site, src.description)
    started = time.monotonic()
    try:
        report = _run_with_progress(
            f"ingest {total} files",
            total,
            lambda: files_done(ref.catalog_url, site, key),
            lambda: ingest_batch(
                source=source,
                site=site,
                manifest=str(manifest) if manifest else None,
                operator=operator,
                chunk_size=chunk_size,
                config=config_ref(s),
            ),
        )
    except DanganError as exc:
        _fail(exc)
    err_console.print(f"done in {time.monotonic() - started:.1f} s")
    return report


@app.command()
def demo(
    persons: Annotated[int, typer.Option(min=1, help="persons in the generated sample batch")] = 3,
) -> None:
    """The main job on the embedded default: sample scans → digitization flow → summary."""
    from dangan.catalog.sites import add_site, get_site
    from dangan.errors import SiteNotFound
    from dangan.samples import generate_samples

    s = _settings()
    try:
        get_site(s, DEMO_SITE[0])
    except (SiteNotFound, DanganError):
        add_site(s, *DEMO_SITE)
    out = s.data_dir / "samples" / f"batch-{persons}"
    if not (out / "manifest.csv").exists():
        with console.status(f"rendering sample scans for {persons} persons…"):
            batch = generate_samples(out, persons, seed=0, site=DEMO_SITE[0])
        console.print(f"sample batch: {len(batch.files)} files in {out}")
    source, manifest = _sample_layout(out)
    _print_digitize(_digitize(str(source), DEMO_SITE[0], manifest, "demo", None, None))
    from cli.analytics import demo_analytics

    demo_analytics(DEMO_SITE[0])
    console.print(
        f"\nCatalog: {s.home_catalog_url}\nObjects: {s.default_store_url}\nNext: `dangan status --site {DEMO_SITE[0]}`"
    )


@app.command()
def ocr(
    paths: Annotated[list[Path], typer.Argument(help="image/PDF files or folders")],
    engine: Annotated[
        str | None, typer.Option(help="ppocr, tesseract or paddle (needs the paddle extra); default: [ocr] engine")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda; default: [ocr] device")] = None,
    preprocess: Annotated[bool, typer.Option(help="deskew/crop/denoise before OCR")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per page")] = False,
    batch: Annotated[int, typer.Option(min=1, max=256, help="pages read at once (Tesseract: side by side)")] = 8,
) -> None:
    """OCR image files standalone (no catalog): text, or JSON lines with boxes and confidences."""
    from dangan.ocr import OcrOptions
    from dangan.ocr.files import batches, iter_file_pages
    from dangan.ocr.stage import engine_for

    try:
        # the [ocr] settings (model folder, pinned model checksums, tuning) apply here as in the flows
        eng = engine_for(OcrOptions.model_validate(_settings().ocr.engine_options(engine, device)))
    except DanganError as exc:
        _fail(exc)
    except ValueError as exc:
        err_console.print(f"[bold red]Error[/]: {exc}")
        raise typer.Exit(2) from exc
    ident = eng.identity()
    tally = {"pages": 0, "with text": 0, "no text": 0, "failed": 0}
    t0 = time.perf_counter()
    try:
        for group in batches(iter_file_pages(list(paths), preprocess=preprocess), batch):
            for fp, result in zip(group, eng.recognize([fp.image for fp in group]), strict=True):
                _print_ocr_page(fp, result, ident, as_json, tally)
    except DanganError as exc:  # e.g. the GPU failed mid-run: what was read so far, then what to do
        _ocr_summary(tally, time.perf_counter() - t0, ident, as_json)
        _fail(exc)
    _ocr_summary(tally, time.perf_counter() - t0, ident, as_json)
    if tally["failed"]:
        raise typer.Exit(1)


def _print_ocr_page(fp: Any, result: Any, ident: EngineIdentity, as_json: bool, tally: dict[str, int]) -> None:
    from dangan.ocr.quality import page_quality

    error = fp.error or result.error
    tally["pages"] += 1
    tally["failed" if error else "with text" if result.lines else "no text"] += 1
    quality = None if error else page_quality(result)  # measures + OCR_* codes: garbage is flagged, not passed on
    codes = list(quality.codes) if quality else []
    if as_json:
        print(
            json.dumps(
                {
                    "path": fp.path,
                    "page": fp.page,
                    "engine": ident.engine,
                    "model": ident.model,
                    "device": result.device,
                    "seconds": round(result.seconds, 3),
                    "error": error,
                    "orientation": result.orientation,
                    "orientation_confidence": result.orientation_confidence,
                    "quality": quality.to_json() if quality else None,
                    "codes": codes,
                    "lines": [ln.to_json() for ln in result.lines],
                    **({"note": "no text recognized on this page"} if not error and not result.lines else {}),
                },
                ensure_ascii=False,
            ),
            flush=True,
        )
    else:
        console.rule(f"{fp.path} · page {fp.page} · {result.device} · {result.seconds:.2f} s")
        if error:
            console.print(f"[red]{error}[/]", highlight=False)
        elif not result.lines:  # a blank page or one the engine found no text on: say so, not an empty gap
            console.print("[dim](no text recognized on this page)[/]")
        else:
            console.print(result.text(), highlight=False)
        if result.orientation:
            console.print(f"[dim](page turned {result.orientation}° upright for OCR)[/]")
        for code in codes:
            assert quality is not None
            console.print(f"[yellow]{code}[/]: {quality.message(code)}", highlight=False)


def _ocr_summary(tally: dict[str, int], seconds: float, ident: EngineIdentity, as_json: bool) -> None:
    """Pages read, with and without text, failed; on stderr with --json (stdout stays JSON lines)."""
    table = Table(title=f"OCR · {ident.engine} · {ident.model} · {ident.device}")
    for column in (*tally, "seconds", "pages/s"):
        table.add_column(column, justify="right")
    rate = tally["pages"] / seconds if seconds > 0 else 0.0
    table.add_row(*(str(v) for v in tally.values()), f"{seconds:.1f}", f"{rate:.2f}")
    (err_console if as_json else console).print(table)
    if tally["failed"]:
        (err_console if as_json else console).print(
            "[yellow]Failed pages are listed above with their codes; unreadable files would also be quarantined "
            "by `dangan ingest`.[/]"
        )


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="text to find in OCR results")],
    site: Annotated[str, typer.Option(help="site code")],
    limit: Annotated[int, typer.Option(help="most hits shown")] = 50,
) -> None:
    """Full-text search over the site's OCR results (whitespace-insensitive). Queries with 4+ digits in a row
    (identity or phone numbers) need the pii.reveal permission and are audited."""
    from dangan.access import guard_search
    from dangan.catalog.sites import get_site
    from dangan.ocr.search import search_text
    from dangan.pii import Masker
    from dangan.reports import document_maskers

    try:
        ref = get_site(_settings(), site)
        guard_search(_settings(), ref.catalog_url, site, text)
    except DanganError as exc:
        _fail(exc)
    hits = search_text(ref.catalog_url, site, text, limit)
    # file names and OCR text name people: mask what the catalog knows of each page's document (its person, the
    # name and ID read from it); the query too, since it may be a name the results mask
    maskers = document_maskers(ref.catalog_url, [h["document_id"] for h in hits if h["document_id"] is not None])
    mask = Masker.combine(maskers.values())
    table = Table(title=f"{len(hits)} pages contain {mask(text)!r}", title_justify="left")
    for col in ("page id", "document", "file", "page", "context"):
        table.add_column(col)
    for h in hits:
        table.add_row(str(h["page_id"]), str(h["document_id"]), mask(h["file"]), str(h["page"]), mask(h["snippet"]))
    console.print(table)


@app.command()
def digitize(
    source: Annotated[str, typer.Argument(help="scanner folder, or s3://bucket/prefix?endpoint=… inbox")],
    site: Annotated[str, typer.Option(help="site code")],
    manifest: Annotated[Path | None, typer.Option(help="batch manifest CSV")] = None,
    operator: Annotated[str | None, typer.Option(help="who scanned the batch")] = None,
    engine: Annotated[str | None, typer.Option(help="OCR engine (default from settings)")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Run the whole digitization flow on a batch: ingest → QA → OCR → extraction, validation, 四性检测."""
    report = _digitize(source, site, manifest, operator, engine, device)
    if as_json:
        print(json.dumps(report.public_dict(), ensure_ascii=False, default=str))
    else:
        _print_digitize(report)


def _digitize(
    source: str, site: str, manifest: Path | None, operator: str | None, engine: str | None, device: str | None
) -> DigitizeReport:
    from dangan.catalog.sites import get_site
    from dangan.ingest.source import open_source
    from flows.digitize import digitize as digitize_flow
    from flows.params import config_ref

    s = _settings()
    try:
        get_site(s, site)
        total = len(open_source(source, exclude={manifest} if manifest else None).list())
        with console.status(f"digitizing {total} files (ingest → OCR → PDFs); progress in the Prefect UI…"):
            return digitize_flow(
                source=source,
                site=site,
                manifest=str(manifest) if manifest else None,
                operator=operator,
                ocr_engine=engine,
                device=device,
                config=config_ref(s),
            )
    except DanganError as exc:
        _fail(exc)


def _batch_ocr(report: DigitizeReport) -> OcrReport | None:
    """The batch's OCR totals from the catalog (every run so far), or None when the catalog cannot say."""
    from dangan.catalog.sites import get_site
    from dangan.ocr.summary import batch_ocr_summary

    try:
        return batch_ocr_summary(get_site(_settings(), report.site).catalog_url, report.ingest.batch_id)
    except DanganError:
        return None


def _print_digitize(report: DigitizeReport) -> None:
    from flows.render import print_digitize_report

    print_digitize_report(console, report, _batch_ocr(report))


@app.command()
def deploy(
    only: Annotated[list[str] | None, typer.Option(help="deploy only these deployment names")] = None,
    cpu_limit: Annotated[int | None, typer.Option(help="concurrent flow runs in the CPU pool")] = None,
    gpu_limit: Annotated[int | None, typer.Option(help="concurrent flow runs in the GPU pool")] = None,
    gpus: Annotated[int, typer.Option(help="slots of the global `ocr-gpu` limit (one per GPU)")] = 1,
    storage_slots: Annotated[int, typer.Option(help="slots of each `storage-{site}` limit")] = 4,
    notify_block: Annotated[
        str | None, typer.Option(help="notification block for automations, as TYPE/NAME (custom-webhook/ops)")
    ] = None,
) -> None:
    """Create work pools, concurrency limits and automations, then deploy deployments/prefect.yaml."""
    import os

    from dangan.catalog.sites import list_sites
    from flows import deploy as d

    if not os.environ.get("PREFECT_API_URL"):
        err_console.print(
            "[bold red]PREFECT_API_URL is not set[/]: start a server (`prefect server start`) and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api, then run `dangan deploy` again."
        )
        raise typer.Exit(2)
    try:
        pools = d.ensure_pools(cpu_limit, gpu_limit)
        limits = d.ensure_limits([r.code for r in list_sites(_settings())], gpus, storage_slots)
        autos = d.ensure_automations(notify_block) if notify_block else []
    except DanganError as exc:
        _fail(exc)

    result = d.deploy(only)
    table = Table(title="Prefect set-up", title_justify="left")
    table.add_column("kind")
    table.add_column("names")
    table.add_row("work pools", ", ".join(pools))
    table.add_row("global concurrency limits", ", ".join(f"{k}={v}" for k, v in limits.items()))
    table.add_row("automations", ", ".join(autos) or "none (give --notify-block to create them)")
    table.add_row("deployments", ", ".join(only or d.deployment_names()))
    console.print(table)
    if result.returncode != 0:
        err_console.print(result.stdout[-3000:] + result.stderr[-3000:])
        err_console.print("[bold red]prefect deploy failed[/]; fix the error above and run `dangan deploy` again.")
        raise typer.Exit(1)
    console.print("Start workers: `prefect worker start --pool dangan-cpu` (and `--pool dangan-gpu` on GPU hosts).")


@app.command()
def reprocess(
    site: Annotated[str, typer.Option(help="site code")],
    batch: Annotated[str | None, typer.Option(help="only pages of this batch id")] = None,
    qa_code: Annotated[list[str] | None, typer.Option(help="pages with this quality-issue code (repeatable)")] = None,
    status: Annotated[list[str] | None, typer.Option(help="pages in this status (repeatable)")] = None,
    validation_status: Annotated[list[str] | None, typer.Option(help="documents in this status")] = None,
    ocr_model_not: Annotated[str | None, typer.Option(help="pages whose current OCR model is not this")] = None,
    ingested_from: Annotated[str | None, typer.Option("--from", help="ingested on/after YYYY-MM-DD")] = None,
    ingested_to: Annotated[str | None, typer.Option("--to", help="ingested on/before YYYY-MM-DD")] = None,
    stage: Annotated[list[Stage] | None, typer.Option(help="ocr and/or extract (default both)")] = None,
    engine: Annotated[str | None, typer.Option(help="OCR engine (default from settings)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the change report as JSON")] = False,
    page: Annotated[list[int] | None, typer.Option(help="only this page id (repeatable)")] = None,
    document: Annotated[list[int] | None, typer.Option(help="only pages of this document id (repeatable)")] = None,
    preview: Annotated[
        bool, typer.Option(help="read the pages and show what would change per page; record nothing")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="make new readings current even when they score worse (audited with --actor)")
    ] = False,
) -> None:
    """Rerun OCR and/or extraction for selected pages with the current configuration; report what changed.

    A new OCR reading replaces the current one only when it scores better by the page's quality measures
    (confidence, characters, lines, fields and contribution rows found); otherwise it is kept as a non-current
    version (REPROCESS_KEPT_CURRENT). Use --preview first to see, per page, what would change.
    """
    from pydantic import ValidationError

    from dangan.reprocess import Selector
    from flows.params import config_ref
    from flows.reprocess import reprocess as reprocess_flow

    try:
        sel = Selector.model_validate(
            dict(
                batch_id=batch,
                qa_codes=qa_code,
                page_status=status,
                validation_status=validation_status,
                ocr_model_not=ocr_model_not,
                ingested_from=ingested_from,
                ingested_to=ingested_to,
                page_ids=page,
                document_ids=document,
            )
        )
    except ValidationError as exc:
        err_console.print(f"[bold red]Invalid selector[/]: {exc.errors()[0]['msg']} — dates are YYYY-MM-DD.")
        raise typer.Exit(2) from exc
    try:
        with console.status("reprocessing…"):
            report = reprocess_flow(
                site=site,
                selector=sel,
                stages=stage,
                engine=engine,
                config=config_ref(_settings()),
                preview=preview,
                force=force,
            )
    except DanganError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    if report.get("pages_judged"):
        _print_readings(report)
    if preview:
        return
    console.print(
        f"{report['selected_pages']} pages · OCR text changed on {len(report['ocr_changed_pages'])} · "
        f"{len(report['field_changes'])} field changes · models: {', '.join(report['ocr_models']) or '—'}"
    )
    if report["field_changes"]:
        table = Table(title="Field changes", title_justify="left")
        for col in ("document", "field", "before", "after"):
            table.add_column(col)
        for c in report["field_changes"]:
            table.add_row(str(c["document_id"]), c["field"], str(c["before"]), str(c["after"]))
        console.print(table)


def _print_readings(report: dict[str, Any]) -> None:
    """The per-page table of new OCR readings (current → new) and the decision on each."""
    from flows.reprocess import page_rows

    rows = page_rows(report["pages_judged"], preview=bool(report.get("preview")))
    title = "Preview — nothing recorded" if report.get("preview") else "New OCR readings"
    table = Table(title=title, title_justify="left", show_lines=True)
    for col in rows[0]:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    console.print(table)
    kept = report["kept_current"]
    verb = "would replace" if report.get("preview") else "replaced"
    console.print(
        f"{len(report['replaced'])} pages {verb} their current reading · {len(kept)} kept "
        f"({', '.join(sorted({k['code'] for k in kept})) or '—'})"
        + (" · run again without --preview to record; --force to replace anyway" if report.get("preview") else "")
    )


def _sample_layout(out: Path) -> tuple[Path, Path]:
    """Scans and manifest of a generated batch."""
    scans = out / "scans"
    return (scans if scans.is_dir() else out), out / "manifest.csv"


def _register_plugins() -> None:
    """Command groups that live beside their flows (transfer, fixity, extraction/review/export)."""
    import importlib

    for name in (
        "cli.transfer",
        "cli.fixity",
        "cli.replicate",
        "cli.extract",
        "cli.keys",
        "cli.analytics",
        "cli.web",
    ):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # only tolerate the module itself being absent
            if exc.name != name:
                raise
            continue
        module.register(app)


_register_plugins()


def run() -> None:  # pragma: no cover - the `dangan` console script and `python -m cli.app`
    """Run the CLI; errors that escape a command are printed for an operator, never as a traceback."""
    try:
        app()
    except DanganError as exc:
        err_console.print(f"[bold red]Error {exc.code}[/]: {exc}")
        sys.exit(2)
    except RuntimeError as exc:
        if "Prefect API" not in str(exc):
            raise
        err_console.print(f"[bold red]Error PREFECT_API_UNAVAILABLE[/]: {exc}")
        err_console.print(
            "[yellow]What to do:[/] run the command again when the machine is less busy, or raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (default here 120); with a Prefect server, "
            "check that PREFECT_API_URL points at it and that it answers."
        )
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    run()
