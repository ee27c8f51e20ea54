"""``dangan fixity``: re-hash a site's stored objects against the catalog and report (optionally repair).

Wire into the main CLI with ``register(app)``; ``python -m cli.fixity …`` runs it standalone.
Exit codes: 0 all verified (untracked objects are reported, not failures), 1 failures remain, 2 error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.support import cli_settings
from dangan.config import Settings
from dangan.errors import DanganError

if TYPE_CHECKING:
    from dangan.fixity.adopt import AdoptReport
    from dangan.fixity.model import FixityReport

_out = Console()
_err = Console(stderr=True)

_STYLE = {
    "missing": "red",
    "changed": "bold red",
    "metadata_mismatch": "yellow",
    "untracked": "cyan",
    "unverifiable": "yellow",
}


def _cfg() -> Settings:
    return cli_settings()


def fixity(
    site: Annotated[str, typer.Option("--site", help="site code to audit")],
    sample: Annotated[float, typer.Option("--sample", help="fraction of objects to re-hash, in (0, 1]")] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", help="sampling seed (repeat a sampled run)")] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="repair damaged objects by content from a verified copy (replicas, then other sites)"
        ),
    ] = False,
    repair_from: Annotated[
        str | None, typer.Option("--repair-from", help="repair, looking in this site's store first")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON line")] = False,
    local: Annotated[bool, typer.Option("--local", help="run in this process without a Prefect flow run")] = False,
    adopt_digests: Annotated[
        bool,
        typer.Option(
            "--adopt-digests",
            help="first record the digest of OCR objects catalogued without one (when the store's record agrees)",
        ),
    ] = False,
) -> None:
    """Verify every stored master, derivative, quarantined file and OCR output of a site (fixity audit)."""
    settings = _cfg()
    adopted: AdoptReport | None = None
    try:
        if adopt_digests:
            adopted = _adopt(settings, site)
        if local:
            from dangan.fixity import audit_registered_site

            report = audit_registered_site(
                settings, site, sample_fraction=sample, seed=seed, repair_from=repair_from, repair=repair
            )
        else:
            from flows.fixity import fixity_audit
            from flows.params import config_ref

            report = fixity_audit(
                site,
                sample,
                repair_from=repair_from,
                config=config_ref(settings),
                seed=seed,
                repair=repair,
            )
    except DanganError as exc:
        _err.print(f"[bold red]Error {exc.code}[/]: {exc.message}")
        if exc.hint:
            _err.print(f"[yellow]What to do:[/] {exc.hint}")
        raise typer.Exit(2) from None
    if as_json:
        extra = {"adopted": adopted.to_dict()} if adopted is not None else {}
        print(json.dumps({**report.to_dict(), **extra}, ensure_ascii=False))
    else:
        _print_tables(report, adopted)
    if not report.passed:
        raise typer.Exit(1)


def _adopt(settings: Settings, site: str) -> AdoptReport:
    """Digests adopted for OCR objects that had none (``dangan.fixity.adopt``)."""
    from dangan.fixity.adopt import adopt_ocr_digests
    from dangan.fixity.run import site_stores

    ref, store, _ = site_stores(settings, site)
    return adopt_ocr_digests(ref.catalog_url, store, ref.code, actor=settings.actor)


def _print_tables(report: FixityReport, adopted: AdoptReport | None = None) -> None:
    from dangan.fixity.report import count_rows, finding_rows

    counts = report.counts()
    summary = Table(title=f"Fixity audit · site {report.site} · run {report.run_id[:12]}")
    summary.add_column("objects")
    summary.add_column("count", justify="right")
    for name, value in count_rows(report).items():
        summary.add_row(name, str(value), style=_STYLE.get(name) if value else None)
    _out.print(summary)
    if report.sample_fraction < 1.0:
        _out.print(f"sampled {report.sample_fraction:g} with seed {report.seed} (--seed to repeat)")
    rows = finding_rows(report)
    if rows:
        table = Table(title="Findings")
        for name in rows[0]:
            table.add_column(name, overflow="fold")
        for row in rows:
            style = "green" if row["repaired"] == "yes" else _STYLE.get(row["status"])
            table.add_row(*(str(v) for v in row.values()), style=style)
        _out.print(table)
    if adopted is not None:
        _out.print(f"digests adopted for {len(adopted.adopted)} OCR object(s)")
        for key, code in sorted(adopted.refused.items()):
            _out.print(f"[yellow]not adopted[/] {key}: {code} (bytes and the store's record disagree or are gone)")
    if counts.get("unverifiable"):
        _out.print(
            f"[yellow]{counts['unverifiable']} object(s) unverifiable (FIXITY_DIGEST_UNRECORDED)[/]: the catalog "
            "has no digest for them. What to do: run again with --adopt-digests. "
            "目录中无摘要，请加 --adopt-digests 重新运行。"
        )
    verdict = "[green]all verified[/]" if report.passed else f"[red]{counts['failed']} failure(s) remain[/]"
    _out.print(verdict)


def register(app: typer.Typer) -> None:
    """Add the ``fixity`` command to the main CLI."""
    app.command("fixity")(fixity)


def main() -> None:  # pragma: no cover - standalone entry
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
