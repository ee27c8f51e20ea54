"""Replication and replica-audit summaries as table rows (CLI tables, Prefect table/markdown artifacts)."""

from __future__ import annotations

from typing import Any

from dangan.pii import scrub
from dangan.reports import markdown_table

COLUMNS = ["target", "store", "masters", "already", "copied", "recopied", "missing", "damaged", "failed"]


def summary_rows(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target (``TargetSummary.to_dict()``); ``failed`` is a count here."""
    return [
        {k: (len(s["failed"]) if k == "failed" else scrub(str(s[k])) if k == "store" else s[k]) for k in COLUMNS}
        for s in summaries
    ]


def failure_rows(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per object that could not be copied or was found bad, with its code."""
    return [{"target": s["target"], "key": scrub(f["key"]), "code": f["code"]} for s in summaries for f in s["failed"]]


def replication_markdown(title: str, summaries: list[dict[str, Any]]) -> str:
    rows = summary_rows(summaries)
    fails = failure_rows(summaries)
    text = f"# {title}\n\n" + markdown_table(COLUMNS, [[r[k] for k in COLUMNS] for r in rows])
    if fails:
        text += "\n## Objects needing attention\n" + markdown_table(
            ["target", "key", "code"], [[f["target"], f["key"], f["code"]] for f in fails]
        )
    return text
