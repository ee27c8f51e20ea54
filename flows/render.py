"""Terminal rendering for operators: rich tables, masked PII."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dangan.reports import report_masker


def counts_table(title: str, counts: dict[str, int], key_header: str = "state") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(key_header)
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(key, str(value))
    if not counts:
        table.add_row("—", "0")
    return table


def print_ingest_report(console: Console, report: dict[str, Any]) -> None:
    """Batch summary: totals, outcomes, QA issues, quarantine and reconciliation, as tables.

    File names are masked with the report's ``display_names`` (names and IDs from the manifest and catalog).
    """
    mask = report_masker(report)
    # the batch's totals over every run; the outcomes below are this run's (a rerun's files come out "already")
    totals = Table(title=f"Batch {report['batch_id'][:12]} · site {report['site']} · in total", title_justify="left")
    for col in ("files", "accepted files", "pages", "quarantined", "duplicates", "unaccounted"):
        totals.add_column(col, justify="right")
    totals.add_row(
        *(
            str(x)
            for x in (
                report["files"],
                report["accepted_files"],
                report["pages"],
                len(report["quarantined"]),
                len(report["duplicates"]),
                len(report["unaccounted"]),
            )
        )
    )
    console.print(totals)
    console.print(counts_table("Outcomes of this run", report["outcomes"], "outcome"))
    console.print(counts_table("Quality issues by code (pages)", report["qa_issues"], "code"))
    if report["quarantined"]:
        q = Table(title="Quarantined files (original bytes kept)", title_justify="left")
        for col in ("file", "code", "reason"):
            q.add_column(col)
        for item in report["quarantined"]:
            q.add_row(mask(item["file"]), item["code"], mask(item["message"]))
        console.print(q)
    recon = [("not in manifest", f) for f in report["unlisted_files"]]
    recon += [("listed, not delivered", f) for f in report["missing_files"]]
    recon += [
        ("page count", f"{m['file']}: expected {m['expected']}, found {m['found']}")
        for m in report["page_count_mismatches"]
    ]
    if recon:
        r = Table(title="Manifest reconciliation", title_justify="left")
        r.add_column("finding")
        r.add_column("file")
        for kind, name in recon:
            r.add_row(kind, mask(name))

        console.print(r)
    if report["unaccounted"]:
        unaccounted = escape(", ".join(mask(name) for name in report["unaccounted"]))  # names are no markup
        console.print(f"[red]Not accounted for: {unaccounted} — re-run the same command.[/]", highlight=False)
