"""Human-readable fixity reports (markdown for Prefect artifacts, rows for table artifacts and the CLI).

Object keys are content-addressed or made of ids, so they carry no personal data; text is scrubbed anyway.
"""

from __future__ import annotations

from typing import Any

from dangan.pii import scrub
from dangan.reports import markdown_table


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "—"


def finding_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per finding of a report dict (``FixityReport.to_dict()``), for tables."""
    return [
        {
            "key": scrub(f["key"]),
            "kind": f["kind"],
            "status": f["status"],
            "expected": _short(f["expected"]),
            "recorded": _short(f["recorded"]),
            "found": _short(f["found"]),
            "repaired": "yes" if f["repaired"] else ("failed: " + f["repair_error"] if f["repair_error"] else "no"),
        }
        for f in report["findings"]
    ]


_table = markdown_table


def fixity_markdown(report: dict[str, Any]) -> str:
    """Markdown summary of one audit run: verdict, counts, sampling, and every finding."""
    counts = report["counts"]
    verdict = "**passed**" if report["passed"] else f"**{counts['failed']} failure(s) remain**"
    sampling = (
        "all catalogued objects"
        if report["sample_fraction"] >= 1.0
        else f"sample {report['sample_fraction']:g} with seed {report['seed']} (re-run with the seed to repeat)"
    )
    rows = finding_rows(report)
    keys = ["key", "kind", "status", "expected", "recorded", "found", "repaired"]
    return "".join(
        [
            f"# Fixity audit — site {report['site']}: {verdict}\n\n",
            f"Run `{report['run_id']}` · {report['started_at']} → {report['finished_at']} · {sampling}\n\n",
            _table(
                ["catalogued", "checked", *counts.keys()],
                [[report["catalogued"], report["checked"], *counts.values()]],
            ),
            "\n## Findings\n",
            _table(keys, [[r[k] for k in keys] for r in rows]),
            "\nUntracked objects are reported only: the next ingest adopts a master stored before a crash.\n",
        ]
    )
