"""``dangan keys``: the sites' signing keys (Ed25519) and the registry of public keys this installation trusts.

Reading the registry and exporting a public key is open to every operator; creating, importing, rotating and
revoking keys changes whom this site trusts and needs the ``sites.admin`` permission (dangan/access.py). Every
change is an audit event (``key.registered``, ``key.retired``, ``key.revoked``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.support import cli_settings, console, fail
from dangan.errors import DanganError

keys_app = typer.Typer(help="Site signing keys: create, list, exchange, rotate, revoke.", no_args_is_help=True)


def _admin(action: str) -> str:
    from dangan.access import SITES_ADMIN, require

    return require(cli_settings(), SITES_ADMIN, action)


@keys_app.command("init")
def init(site: Annotated[str, typer.Option("--site", help="site code whose key pair to create")]) -> None:
    """Create the site's key pair (once) and register its public key; prints the key id to tell partners."""
    from dangan.catalog.schema import upgrade
    from dangan.transfer.keys import key_path, signer

    settings = cli_settings()
    try:
        actor = _admin(f"create the signing key of site {site}")
        upgrade(settings.home_catalog_url)
        key = signer(settings, site, actor=actor)
    except DanganError as exc:
        fail(exc)
    console.print(f"site [bold]{site}[/] signs with key [bold]{key.key_id}[/] ({key_path(settings, site)}, mode 0600)")


@keys_app.command("list")
def list_(
    site: Annotated[str | None, typer.Option("--site", help="only this site's keys")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line")] = False,
) -> None:
    """Every public key in the registry with its status (active, retired, revoked)."""
    from dangan.catalog.schema import upgrade
    from dangan.transfer.keys import list_keys

    settings = cli_settings()
    upgrade(settings.home_catalog_url)
    keys = list_keys(settings, site)
    if as_json:
        print(json.dumps([k.to_dict() for k in keys], ensure_ascii=False))
        return
    table = Table(title="Signing keys / 签名密钥")
    for col in ("site", "key id", "algorithm", "status", "since", "retired", "revoked (reason)"):
        table.add_column(col)
    for k in keys:
        revoked = f"{k.revoked_at:%Y-%m-%d} ({k.reason})" if k.revoked_at else ""
        table.add_row(
            k.site,
            k.key_id,
            k.algorithm,
            k.status,
            f"{k.created_at:%Y-%m-%d}",
            f"{k.retired_at:%Y-%m-%d}" if k.retired_at else "",
            revoked,
        )
    console.print(table)


@keys_app.command("export")
def export(
    site: Annotated[str, typer.Option("--site", help="site whose public key to export")],
    out: Annotated[Path | None, typer.Option("--out", help="write to this file (default: print)")] = None,
) -> None:
    """The site's active public key as a JSON document for other counties (contains no secret)."""
    from dangan.transfer.keys import export_public_key

    try:
        doc = export_public_key(cli_settings(), site)
    except DanganError as exc:
        fail(exc)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if out:
        out.write_text(text + "\n")
        console.print(f"public key {doc['key_id']} of site {site} written to {out}")
    else:
        print(text)


@keys_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="a document written by `dangan keys export` at the other site")],
    replace: Annotated[bool, typer.Option(help="the site rotated its key: retire its active one here")] = False,
) -> None:
    """Trust another site's public key. Check the printed key id with that site (by phone) before transfers."""
    from dangan.catalog.schema import upgrade
    from dangan.transfer.keys import import_public_key

    settings = cli_settings()
    try:
        actor = _admin("import another site's public key")
        upgrade(settings.home_catalog_url)
        doc = json.loads(file.read_text())
        info = import_public_key(settings, doc, actor=actor, replace=replace)
    except ValueError as exc:
        raise typer.BadParameter(f"{file} is not JSON: {exc}") from exc
    except DanganError as exc:
        fail(exc)
    console.print(f"site [bold]{info.site}[/] key [bold]{info.key_id}[/] is {info.status}")


@keys_app.command("rotate")
def rotate(site: Annotated[str, typer.Option("--site", help="site whose key to replace")]) -> None:
    """A new key pair; the old key is retired (what it signed before stays valid). Export the new public key
    to every partner site afterwards."""
    from dangan.transfer.keys import rotate_key

    try:
        actor = _admin(f"rotate the signing key of site {site}")
        info = rotate_key(cli_settings(), site, actor=actor)
    except DanganError as exc:
        fail(exc)
    console.print(
        f"site [bold]{site}[/] now signs with key [bold]{info.key_id}[/]; send `dangan keys export` to partners"
    )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key id to revoke")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit trail)")],
) -> None:
    """Revoke a key (compromised or lost): nothing it signed is accepted any more, whatever its date."""
    from dangan.transfer.keys import revoke_key

    try:
        actor = _admin("revoke a signing key")
        info = revoke_key(cli_settings(), key_id, reason=reason, actor=actor)
    except DanganError as exc:
        fail(exc)
    console.print(f"key [bold]{info.key_id}[/] of site {info.site} is [red]{info.status}[/]")


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to the main CLI."""
    app.add_typer(keys_app, name="keys")
