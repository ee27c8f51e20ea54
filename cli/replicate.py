"""``dangan replicate``: keep a verified second copy of a site's masters at its ``[replication]`` targets
(定期检测和拷贝), or (``--audit``) re-hash those copies. Summaries are printed as tables.

Exit codes: 0 done (every master copied / every copy verified), 1 objects need attention, 2 error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.support import cli_settings
from dangan.errors import DanganError

if TYPE_CHECKING:
    from dangan.replication.replicate import TargetSummary

_out = Console()
_err = Console(stderr=True)


def replicate(
    site: Annotated[str, typer.Option("--site", help="site code whose masters are replicated")],
    target: Annotated[
        list[str] | None, typer.Option("--target", help="only this [replication] target (repeatable)")
    ] = None,
    audit: Annotated[bool, typer.Option("--audit", help="re-hash the copies instead of copying")] = False,
    sample: Annotated[float, typer.Option("--sample", help="--audit: fraction of copies to re-hash")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the summaries as one JSON line")] = False,
    local: Annotated[bool, typer.Option("--local", help="run in this process without a Prefect flow run")] = False,
) -> None:
    """Copy every master of a site that a replica target lacks, verified by re-reading (or audit the copies)."""
    settings = cli_settings()
    targets = list(target) if target else None
    try:
        if local:
            from dangan.replication import audit_replicas, replicate_site

            found = (
                audit_replicas(settings, site, targets=targets, sample_fraction=sample)
                if audit
                else replicate_site(settings, site, targets=targets)
            )
            summaries = list(found)
        else:
            from flows.params import config_ref
            from flows.replication import replica_audit, replication

            config = config_ref(settings)
            summaries = (
                replica_audit(site, targets, sample, config=config)
                if audit
                else replication(site, targets, config=config)
            )
    except DanganError as exc:
        _err.print(f"[bold red]Error {exc.code}[/]: {exc.message}")
        if exc.hint:
            _err.print(f"[yellow]What to do:[/] {exc.hint}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps([s.to_dict() for s in summaries], ensure_ascii=False))
    else:
        _print(site, summaries, audit)
    if not summaries:
        _err.print("[yellow]no [replication] target serves this site[/]: add one in dangan.toml")
    if any(s.failed for s in summaries):
        raise typer.Exit(1)


def _print(site: str, summaries: list[TargetSummary], audit: bool) -> None:
    from dangan.replication.report import failure_rows, summary_rows

    rows = summary_rows(summaries)
    table = Table(title=f"{'Replica audit' if audit else 'Replication'} · site {site}")
    for name in rows[0] if rows else ["target"]:
        table.add_column(name, justify="left" if name in ("target", "store") else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()), style="red" if row["failed"] else None)
    _out.print(table)
    fails = failure_rows(summaries)
    if fails:
        bad = Table(title="Objects needing attention")
        for name in fails[0]:
            bad.add_column(name, overflow="fold")
        for fail in fails:
            bad.add_row(*fail.values())
        _out.print(bad)


def register(app: typer.Typer) -> None:
    """Add the ``replicate`` command to the main CLI."""
    app.command("replicate")(replicate)
