"""Replication and replica-audit summaries as table rows (CLI tables, Prefect table/markdown artifacts).

Rendered from the typed :class:`~dangan.replication.replicate.TargetSummary`; its ``to_dict()`` is the JSON form
(``dangan replicate --json``).
"""

from __future__ import annotations

from collections.abc import Sequence

from dangan.pii import scrub
from dangan.replication.replicate import TargetSummary
from dangan.reports import markdown_table

COLUMNS = ["target", "store", "masters", "already", "copied", "recopied", "missing", "damaged", "failed"]
FAILURE_COLUMNS = ["target", "key", "code"]


def summary_rows(summaries: Sequence[TargetSummary]) -> list[dict[str, str | int]]:
    """One row per target, in :data:`COLUMNS` order; ``failed`` is a count here."""
    return [
        {
            "target": s.target,
            "store": scrub(s.store),
            "masters": s.masters,
            "already": s.already,
            "copied": s.copied,
            "recopied": s.recopied,
            "missing": s.missing,
            "damaged": s.damaged,
            "failed": len(s.failed),
        }
        for s in summaries
    ]


def failure_rows(summaries: Sequence[TargetSummary]) -> list[dict[str, str]]:
    """One row per object that could not be copied or was found bad, with its code."""
    return [
        {"target": s.target, "key": scrub(str(f["key"])), "code": str(f["code"])} for s in summaries for f in s.failed
    ]


def replication_markdown(title: str, summaries: Sequence[TargetSummary]) -> str:
    """Markdown summary: one row per target, then the objects needing attention."""
    rows = summary_rows(summaries)
    fails = failure_rows(summaries)
    text = f"# {title}\n\n" + markdown_table(COLUMNS, [[r[k] for k in COLUMNS] for r in rows])
    if fails:
        text += "\n## Objects needing attention\n" + markdown_table(
            FAILURE_COLUMNS, [[f[k] for k in FAILURE_COLUMNS] for f in fails]
        )
    return text
