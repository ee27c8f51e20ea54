"""Terminal rendering for operators: rich tables of the same table builders the artifacts use, masked PII."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dangan.digitize import DigitizeReport
from dangan.ingest.report import IngestReport
from dangan.ocr.summary import OcrReport
from dangan.pii import Masker
from dangan.reports import ReportTable, ingest_tables, ocr_table, validation_table


def counts_table(title: str, counts: dict[str, int], key_header: str = "state") -> Table:
    """A two-column table of counts by key (``—`` / 0 when there are none)."""
    return rich_table(ReportTable(title, (key_header, "count"), list(counts.items())), empty=("—", "0"))


def rich_table(table: ReportTable, masker: Masker | None = None, empty: tuple[str, ...] | None = None) -> Table:
    """A report table as a rich table: every cell masked and printed as text, never as markup."""
    mask = masker or Masker()
    out = Table(title=table.title, title_justify="left")
    for i, header in enumerate(table.headers):
        numeric = bool(table.rows) and all(isinstance(row[i], int) for row in table.rows)
        out.add_column(header, justify="right" if numeric else "left")
    for row in table.rows:
        out.add_row(*(escape(mask(cell)) for cell in row))
    if not table.rows and empty:
        out.add_row(*empty)
    return out


def print_ingest_report(console: Console, report: IngestReport) -> None:
    """Batch summary: totals, outcomes, QA issues, quarantine and reconciliation, as tables.

    File names are masked with the report's ``display_names`` (names and IDs from the manifest and catalog).
    """
    mask = report.masker()
    # the batch's totals over every run; the outcomes below are this run's (a rerun's files come out "already")
    totals, outcomes, qa, recon = ingest_tables(report)
    console.print(rich_table(totals, mask))
    console.print(rich_table(outcomes, mask, empty=("—", "0")))
    console.print(rich_table(qa, mask, empty=("—", "0")))
    if report.quarantined:
        quarantined = ReportTable(
            "Quarantined files (original bytes kept)",
            ("file", "code", "reason"),
            [(q.file, q.code, q.message) for q in report.quarantined],
        )
        console.print(rich_table(quarantined, mask))
    if recon.rows:
        console.print(rich_table(recon, mask))
    if report.unaccounted:
        unaccounted = escape(", ".join(mask(name) for name in report.unaccounted))  # names are no markup
        console.print(f"[red]Not accounted for: {unaccounted} — re-run the same command.[/]", highlight=False)


def print_digitize_report(console: Console, report: DigitizeReport, in_total: OcrReport | None = None) -> None:
    """The ingest tables, OCR of this run beside the batch's OCR ``in_total`` (a rerun reads no page twice, so
    "this run" alone would say 0 pages), then validation and the 四性检测 verdict."""
    print_ingest_report(console, report.ingest)
    scoped = [("this run", report.ocr)] + ([("in total", in_total)] if in_total is not None else [])
    ocr = rich_table(ocr_table(scoped))
    for column in ocr.columns:  # "this run" / "in total" stay whole on an 80-column terminal
        column.no_wrap = not column.header
    console.print(ocr)
    validation = report.validation
    console.print(rich_table(validation_table(validation, report.four_properties)))
    if validation.needs_review:
        console.print(f"Review flagged documents: `dangan review --site {report.site}`")
    if validation.data_docs:
        console.print(f"Data Docs (open while `dangan serve` runs / 需先运行 dangan serve): {validation.data_docs}")
