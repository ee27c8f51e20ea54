"""``dangan transfer``, ``dangan migrate`` and ``dangan package export|import``: archive transfer from the CLI.

Wire into the main CLI with ``register(app)``. ``python -m cli.transfer …`` runs the same commands
standalone (used by kill tests and on machines without the full CLI).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from cli.support import cli_settings, fail
from dangan.config import Settings
from dangan.errors import ConfigError, DanganError
from dangan.pii import scrub

_err = Console(stderr=True)


def _cfg() -> Settings:
    return cli_settings()


_fail = fail


def _print(result: dict[str, Any], as_json: bool, keys: tuple[str, ...]) -> None:
    if as_json:
        print(json.dumps({k: result.get(k) for k in keys}, ensure_ascii=False))
        return
    for key in keys:
        value = result.get(key)
        if key == "problems" or (value is None and key in ("message", "hint", "cleanup")):
            continue
        shown = value if not isinstance(value, dict) else json.dumps(value, ensure_ascii=False)[:200]
        _err.print(f"{key}: {shown}")
    _problems_table(result.get("problems") or [])


def _problems_table(problems: list[dict[str, Any]]) -> None:
    """Why a transfer or bag was refused: one row per file and finding, with what to do."""
    if not problems:
        return
    from rich.table import Table

    table = Table(title="Problems (nothing was committed)")
    for col in ("file", "property", "code", "message", "what to do / 怎么办"):
        table.add_column(col, overflow="fold")
    for p in problems:
        todo = "\n".join(h for h in (p.get("hint"), p.get("hint_zh")) if h)
        table.add_row(p.get("file") or "-", p.get("property") or "-", p["code"], p.get("message") or "", todo)
    _err.print(table)


def _refused(exc: DanganError, as_json: bool) -> NoReturn:
    """A refusal raised before any transfer row existed (bag refused, wrong destination …): the same problem
    list as a failed transfer's outcome, as one JSON line with ``--json``; exit code 2."""
    from dangan.transfer.problems import problems_of

    problems = problems_of(exc.to_dict())
    if as_json:
        refusal = {
            "transfer_id": exc.details.get("transfer_id"),
            "state": "refused",
            "reason_code": exc.code,
            "message": scrub(exc.message),
            "hint": exc.hint,
            "problems": problems,
        }
        print(json.dumps(refusal, ensure_ascii=False))
    else:
        _problems_table(problems)
    _fail(exc)


OUTCOME_KEYS = ("transfer_id", "state", "reason_code", "message", "hint", "problems", "cleanup", "package", "receipt")


def transfer(
    person: Annotated[str, typer.Option("--person", help="resident ID (GB 11643) of the insured person")],
    from_site: Annotated[str, typer.Option("--from", help="source site code")],
    to_site: Annotated[str, typer.Option("--to", help="destination site code")],
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as one JSON line")] = False,
    local: Annotated[bool, typer.Option("--local", help="run in this process without a Prefect flow run")] = False,
    release_source: Annotated[
        bool,
        typer.Option(
            "--release-source", help="delete the source's derivative/OCR objects after commit (else: setting)"
        ),
    ] = False,
) -> None:
    """Transfer one person's archive to another county (转移接续); resumes an interrupted transfer."""
    settings = _cfg()
    try:
        if local:
            from dangan.transfer import run_transfer

            rid = person.strip().upper()
            keep = False if release_source else None  # None: the transfer.keep_source setting
            result = run_transfer(settings, rid, from_site, to_site, keep_source=keep).to_dict()
        else:
            from dangan.transfer import request_transfer
            from flows.params import config_ref
            from flows.transfer import transfer_archive

            # request first: the flow run then carries only the transfer id, never the resident ID
            tid = request_transfer(settings, person.strip().upper(), from_site, to_site)
            result = transfer_archive(
                from_site=from_site,
                to_site=to_site,
                transfer_id=tid,
                config=config_ref(settings),
                keep_source=False if release_source else None,
            )
    except DanganError as exc:
        _refused(exc, as_json)
    _print(result, as_json, OUTCOME_KEYS)
    if result["state"] != "done":
        raise typer.Exit(1)


def _read_ids(path: Path) -> list[str]:
    """Resident IDs from a text file: one per line; blank lines and ``#`` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the ID list {path}: {exc.strerror}", hint="Give a UTF-8 text file.") from exc
    return [ln.split("#", 1)[0].strip().upper() for ln in lines if ln.split("#", 1)[0].strip()]


def migrate(
    from_site: Annotated[str, typer.Option("--from", help="source site code")],
    to_site: Annotated[str, typer.Option("--to", help="destination site code")],
    ids_file: Annotated[
        Path | None, typer.Option("--ids-file", help="text file, one resident ID per line (default: everyone)")
    ] = None,
    category: Annotated[str | None, typer.Option(help="only persons with a dossier of this category")] = None,
    max_concurrent: Annotated[int, typer.Option(min=1, max=64, help="chunks (and storage slots) at once")] = 4,
    chunk_size: Annotated[int, typer.Option(min=1, max=1000, help="persons per Prefect task")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print the reconciliation report as JSON")] = False,
) -> None:
    """Migrate many archives between counties (a regional migration) and reconcile both sides."""
    from dangan.transfer.reconcile import person_ids_for
    from flows.migrate import regional_migration
    from flows.params import MigrationChoice, MigrationSelector, config_ref

    settings = _cfg()
    selector: MigrationChoice = "all"
    try:
        if ids_file is not None and category is not None:
            raise ConfigError("give --ids-file or --category, not both")
        if ids_file is not None:
            # resolved here so the flow run's parameters hold catalog ids, never resident IDs
            ids, missing = person_ids_for(settings, from_site, _read_ids(ids_file))
            for masked in missing:
                _err.print(f"[yellow]not held by site {from_site}[/]: {masked}")
            if not ids:
                raise ConfigError(f"none of the IDs in {ids_file.name} is held by site {from_site}")
            selector = MigrationSelector(person_ids=ids)
        elif category is not None:
            selector = MigrationSelector(category=category)
        report = regional_migration(
            from_site,
            to_site,
            selector=selector,
            max_concurrent=max_concurrent,
            chunk_size=chunk_size,
            config=config_ref(settings),
        )
    except DanganError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _migration_tables(report)
    if not report["balanced"]:
        raise typer.Exit(1)


def _migration_tables(report: dict[str, Any]) -> None:
    from rich.table import Table

    head = Table(title=f"Migration {report['from_site']} → {report['to_site']}")
    for col in ("", "persons", "documents", "pages", "masters", "master bytes"):
        head.add_column(col, justify="right" if col else "left")
    for side in ("source", "destination"):
        t = report[side]
        head.add_row(side, *(str(t[k]) for k in ("persons", "documents", "pages", "masters", "master_bytes")))
    _err.print(head)
    status = ", ".join(f"{k} {v}" for k, v in sorted(report["by_status"].items()))
    _err.print(f"{report['accounted']} of {report['selected']} persons accounted for: {status}")
    problems = [i for i in report["items"] if i["status"] != "done"]
    if problems:
        table = Table(title="Not done (rerun the same command to resume)")
        for col in ("person", "status", "state", "reason"):
            table.add_column(col)
        for i in problems:
            table.add_row(i["person"], i["status"], str(i["state"] or "-"), i["reason_code"] or "")
        _err.print(table)
    _err.print("[green]Balanced[/]" if report["balanced"] else "[red]Not balanced[/]: see the table above.")


package_app = typer.Typer(help="Transfer packages on removable media (BagIt).", no_args_is_help=True)


@package_app.command("export")
def export(
    person: Annotated[str, typer.Option("--person", help="resident ID")],
    site: Annotated[str, typer.Option("--site", help="site holding the archive")],
    out: Annotated[Path, typer.Option("--out", help="new or empty folder to write the bag into")],
    to_site: Annotated[str | None, typer.Option("--to", help="destination site (records the transfer)")] = None,
    seal: Annotated[
        bool, typer.Option("--seal", help="encrypt to the --to site's key: --out is then a file, not a folder")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Write a person's archive as a signed BagIt bag (SHA-256 + SM3 manifests) into a folder, or with --seal as
    one file only the receiving site can open (personal data on removable media)."""
    from dangan.transfer import export_package
    from dangan.transfer.sealed import export_sealed

    try:
        if seal:
            if not to_site:
                raise typer.BadParameter("--seal needs --to SITE (whose key the bag is sealed to)")
            result = export_sealed(_cfg(), person.strip().upper(), site, out, to_site=to_site)
        else:
            result = export_package(_cfg(), person.strip().upper(), site, out, to_site=to_site)
    except DanganError as exc:
        _fail(exc)
    _print(result, as_json, ("transfer_id", "path", "files", "bytes"))


@package_app.command("import")
def import_(
    folder: Annotated[Path, typer.Argument(help="bag folder, or sealed bag file (from removable media)")],
    site: Annotated[str, typer.Option("--site", help="receiving site code")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Verify a bag at the receiving site and commit it; a tampered or incomplete bag is refused."""
    from dangan.transfer import import_package
    from dangan.transfer.sealed import import_sealed, is_sealed

    try:
        load = import_sealed if is_sealed(folder) else import_package
        result = load(_cfg(), folder, site).to_dict()
    except DanganError as exc:
        _refused(exc, as_json)
    _print(result, as_json, OUTCOME_KEYS)
    if result["state"] != "done":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``transfer``, ``migrate`` and the ``package`` sub-app to the main CLI."""
    app.command("transfer")(transfer)
    app.command("migrate")(migrate)
    app.add_typer(package_app, name="package")


def main() -> None:  # pragma: no cover - standalone entry
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
