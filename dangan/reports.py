"""Human-readable summaries (markdown for Prefect artifacts); PII never appears unmasked."""

from __future__ import annotations

from typing import Any

from dangan.pii import scrub


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A markdown table with every cell PII-scrubbed and pipes escaped (``_none_`` when empty)."""
    if not rows:
        return "_none_\n"
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(scrub(str(c)).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def ingest_markdown(report: dict[str, Any], evidence: dict[str, Any] | None = None) -> str:
    """Markdown summary of one batch: counts by outcome, QA issues by code, duplicates, quarantine.

    ``evidence`` (from ``dangan.ingest.batch.evidence_links``) adds links to quarantined originals and to
    pages that failed an error-level QA gate.
    """
    evidence = evidence or {}
    links: dict[str, str] = evidence.get("quarantine", {})

    parts = [
        f"# Ingest batch `{report['batch_id'][:12]}` — site {report['site']}\n",
        f"Source: `{report['source']}`\n",
        markdown_table(
            ["files", "accepted files", "pages", "quarantined", "duplicates", "unaccounted"],
            [
                [
                    report["files"],
                    report["accepted_files"],
                    report["pages"],
                    len(report["quarantined"]),
                    len(report["duplicates"]),
                    len(report["unaccounted"]),
                ]
            ],
        ),
        "\n## Outcomes\n",
        markdown_table(["outcome", "files"], [[k, v] for k, v in report["outcomes"].items()]),
        "\n## Quality issues (DA/T 31-2017 gates)\n",
        markdown_table(["code", "pages"], [[k, v] for k, v in report["qa_issues"].items()]),
        "\n## Quarantined files\n",
        markdown_table(
            ["file", "code", "reason", "kept at"],
            [
                [
                    q["file"],
                    q["code"],
                    q["message"],
                    f"[object]({links[q['file']]})" if q["file"] in links else (q["object_key"] or "—"),
                ]
                for q in report["quarantined"]
            ],
        ),
        "\n## Pages failing an error-level QA gate\n",
        markdown_table(
            ["file", "page", "codes", "image"],
            [
                [p["file"], p["page"], ", ".join(p["codes"]), f"[open]({p['url']})" if p.get("url") else "—"]
                for p in evidence.get("qa_pages", [])
            ],
        ),
        "\n## Duplicates (already in the archive)\n",
        markdown_table(["file", "same bytes as"], [[d["file"], d["duplicate_of"]] for d in report["duplicates"]]),
        "\n## Manifest reconciliation\n",
        markdown_table(
            ["kind", "file"],
            [["not in manifest", f] for f in report["unlisted_files"]]
            + [["listed, not delivered", f] for f in report["missing_files"]]
            + [
                ["page count", f"{m['file']}: expected {m['expected']}, found {m['found']}"]
                for m in report["page_count_mismatches"]
            ]
            + [["manifest line " + str(p.get("line")), p.get("code")] for p in report["manifest_problems"]],
        ),
    ]
    return "\n".join(parts)


def outcome_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per file that was not simply accepted (quarantined, duplicate, page-count mismatch)."""
    rows = [
        {"file": scrub(q["file"]), "outcome": "quarantined", "code": q["code"], "detail": scrub(q["message"])}
        for q in report["quarantined"]
    ]
    rows += [
        {
            "file": scrub(d["file"]),
            "outcome": "duplicate",
            "code": "DUPLICATE",
            "detail": f"same bytes as {scrub(d['duplicate_of'] or '')}",
        }
        for d in report["duplicates"]
    ]
    rows += [
        {
            "file": scrub(m["file"]),
            "outcome": "accepted",
            "code": "INGEST_PAGE_COUNT_MISMATCH",
            "detail": f"expected {m['expected']} pages, found {m['found']}",
        }
        for m in report["page_count_mismatches"]
    ]
    return rows
