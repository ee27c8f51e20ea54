"""``dangan analytics`` (site or region aggregates, charts, CSV) and ``dangan person-report`` (one person's
contribution history, gaps and retirement horizon; needs the ``pii.reveal`` permission, audited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.support import cli_settings, console, fail
from dangan.errors import DanganError


def analytics(
    site: Annotated[str | None, typer.Option("--site", help="one site (GB/T 2260 code)")] = None,
    region: Annotated[str | None, typer.Option("--region", help="every registered site whose code starts so")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM (default: the newest month on file)")] = None,
    min_cell: Annotated[int, typer.Option("--min-cell", min=1, help="suppress counts below this")] = 5,
    out: Annotated[Path | None, typer.Option("--out", help="write charts (PNG, SVG), CSV and report.json here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Contribution analytics of a site or region: age structure, bases, gaps, retirements, warning lines."""
    from dangan.analytics.site import ReportConfig, build_report

    if not site and not region:
        raise typer.BadParameter("give --site or --region")
    try:
        report = build_report(cli_settings(), site, region, ReportConfig(min_cell=min_cell, as_of=as_of))
    except DanganError as exc:
        fail(exc)
    if out is not None:
        from dangan.analytics.charts import render_charts, write_outputs

        report["files"] = [str(p) for p in write_outputs(report, render_charts(report), out)]
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    console.print(
        f"[bold]{', '.join(report['sites'])}[/] as of {report['as_of']}: {report['persons']} persons, "
        f"{report['active']} below the statutory age, {report['retired']} past it (cells < {min_cell} suppressed)"
    )
    gaps = report.get("gaps") or {}
    table = Table(title="Warning metrics / 预警指标")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in (report.get("metrics") or {}).items():
        table.add_row(name, "suppressed" if value is None else f"{value:.2%}")
    console.print(table)
    if gaps:
        console.print(f"gap window {gaps['window'][0]} – {gaps['window'][1]}")
    for w in report["warnings"]:
        console.print(f"[red]warning[/] {w['line']}: {w['metric']} = {w['value']} {w['op']} {w['threshold']}")
    for path in report.get("files", []):
        console.print(f"  {path}")


def person_report(
    person: Annotated[str, typer.Option("--person", help="catalog person id or resident ID")],
    site: Annotated[str, typer.Option("--site", help="the site holding the archive")] = "330106",
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM for months to retirement")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """One person's month-by-month contributions, gaps, months paid and statutory retirement (pii.reveal)."""
    from dangan.analytics.history import person_report as build

    try:
        report = build(cli_settings(), site, person, as_of=as_of)
    except DanganError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    ret = report["retirement"] or {}
    console.print(
        f"person {report['person_id']} ({report['resident_id']}), born {report['birth']}, {report['sex']}: "
        f"{report['months_paid']} months paid ({report['months_paid_basis']})"
    )
    console.print(
        f"statutory retirement {ret.get('month')} at {ret.get('age')} · minimum {ret.get('min_contribution_months')} "
        f"months · still to pay {report['months_still_to_pay']} · months to retirement {report['months_to_retirement']}"
    )
    for gap in report["gaps"]:
        console.print(f"  gap {gap['first']} – {gap['last']} ({gap['months']} months), resumed {gap['resumed'] or '—'}")
    for name, values in report["conflicts"].items():
        console.print(
            f"  [yellow]conflict[/] {name}: " + "; ".join(f"{v['value']} (docs {v['documents']})" for v in values)
        )


def register(app: typer.Typer) -> None:
    """Add ``analytics`` and ``person-report`` to the main CLI."""
    app.command("analytics")(analytics)
    app.command("person-report")(person_report)


def demo_analytics(site: str) -> None:
    """After the demo's digitization: run the ``analytics`` flow and say where its artifact is."""
    from flows.analytics import analytics as analytics_flow
    from flows.analytics import artifact_key

    try:
        report = analytics_flow(site=site)
    except DanganError as exc:
        fail(exc)
    console.print(
        f"Analytics: artifact [bold]{artifact_key(site)}[/] (charts + numbers, {report.get('persons', 0)} persons, "
        f"{len(report.get('warnings', []))} warning lines crossed) · `dangan analytics --site {site} --out DIR`"
    )
