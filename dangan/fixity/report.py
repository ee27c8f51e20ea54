"""Human-readable fixity reports (markdown for Prefect artifacts, rows for table artifacts and the CLI).

Rendered from the typed :class:`~dangan.fixity.model.FixityReport`; its ``to_dict()`` is the JSON form
(``dangan fixity --json``). Object keys are content-addressed or made of ids, so they carry no personal data;
text is scrubbed anyway.
"""

from __future__ import annotations

from dangan.fixity.model import FixityReport, ObjectCheck
from dangan.pii import scrub
from dangan.reports import markdown_table

FINDING_COLUMNS = ("key", "kind", "status", "expected", "recorded", "found", "repaired")


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "—"


def _repaired(f: ObjectCheck) -> str:
    if f.repaired:
        return "yes"
    return f"failed: {f.repair_error}" if f.repair_error else "no"


def finding_rows(report: FixityReport) -> list[dict[str, str]]:
    """One row per finding, in :data:`FINDING_COLUMNS` order, for tables."""
    return [
        {
            "key": scrub(f.key),
            "kind": f.kind,
            "status": str(f.status),
            "expected": _short(f.expected),
            "recorded": _short(f.recorded),
            "found": _short(f.found),
            "repaired": _repaired(f),
        }
        for f in report.findings
    ]


def count_rows(report: FixityReport) -> dict[str, int]:
    """Catalogued and checked objects, then the counts by status (the summary table of every surface)."""
    return {"catalogued": report.catalogued, "checked": len(report.checked_keys), **report.counts()}


def fixity_markdown(report: FixityReport) -> str:
    """Markdown summary of one audit run: verdict, counts, sampling, and every finding."""
    counts = report.counts()
    verdict = "**passed**" if report.passed else f"**{counts['failed']} failure(s) remain**"
    sampling = (
        "all catalogued objects"
        if report.sample_fraction >= 1.0
        else f"sample {report.sample_fraction:g} with seed {report.seed} (re-run with the seed to repeat)"
    )
    totals = count_rows(report)
    return "".join(
        [
            f"# Fixity audit — site {report.site}: {verdict}\n\n",
            f"Run `{report.run_id}` · {report.started_at} → {report.finished_at} · {sampling}\n\n",
            markdown_table(list(totals), [list(totals.values())]),
            "\n## Findings\n",
            markdown_table(list(FINDING_COLUMNS), [[r[k] for k in FINDING_COLUMNS] for r in finding_rows(report)]),
            "\nUntracked objects are reported only: the next ingest adopts a master stored before a crash.\n",
        ]
    )
