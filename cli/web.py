"""``dangan serve`` (the link server for reports and artifacts) and ``dangan web token`` (viewer tokens)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.support import cli_settings, console, fail
from dangan.errors import DanganError

web_app = typer.Typer(help="Links served by `dangan serve`: viewer tokens.", no_args_is_help=True)


def serve(
    bind: Annotated[str | None, typer.Option(help="host:port to listen on (default: the web.bind setting)")] = None,
) -> None:
    """Serve objects, Data Docs and review pages behind signed links until Ctrl-C (listens on the web.bind setting)."""
    import logging

    from dangan.web.server import make_server

    settings = cli_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        server = make_server(settings, bind)
    except DanganError as exc:
        fail(exc)
    except (OSError, ValueError) as exc:  # port taken, bad host:port
        console.print(f"[bold red]Error WEB_BIND_FAILED[/]: cannot listen on {bind or settings.web.bind}: {exc}")
        console.print("[yellow]What to do:[/] pick a free port with --bind host:port, or stop the other server.")
        raise typer.Exit(2) from exc
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host
    console.print(f"serving on http://{host}:{port} · links use {settings.web.base_url} · Ctrl-C stops")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@web_app.command("token")
def token(
    actor: Annotated[str, typer.Option("--actor", help="operator the token is for (must be granted in [access])")],
    permission: Annotated[
        list[str] | None, typer.Option("--permission", help="permission to carry (default pii.reveal)")
    ] = None,
    hours: Annotated[float, typer.Option(min=0.1, max=24 * 30, help="lifetime")] = 8.0,
) -> None:
    """Mint a viewer token for ACTOR (review pages show personal data in clear only with one). Audited."""
    from dangan.access import PII_REVEAL, audit, require
    from dangan.catalog.schema import upgrade
    from dangan.web.links import mint_viewer_token

    settings = cli_settings()
    wanted = sorted(set(permission or [PII_REVEAL]))
    try:
        upgrade(settings.home_catalog_url)
        for perm in wanted:
            try:
                require(settings, perm, "receive a web viewer token", actor=actor)
            except DanganError as exc:
                audit(
                    settings.home_catalog_url,
                    actor=actor,
                    action="web.token",
                    entity_type="actor",
                    entity_id=actor,
                    outcome="refused",
                    details={"permission": perm, "code": exc.code, "minted_by": settings.actor},
                )
                raise
        value = mint_viewer_token(settings, actor, wanted, ttl_s=int(hours * 3600))
        audit(
            settings.home_catalog_url,
            actor=actor,
            action="web.token",
            entity_type="actor",
            entity_id=actor,
            details={"permissions": wanted, "hours": hours, "minted_by": settings.actor},
        )
    except DanganError as exc:
        fail(exc)
    # the token alone on stdout (for scripts); how to use it on stderr
    typer.echo(value)
    typer.echo("Send it as 'Authorization: Bearer <token>', or add &viewer=<token> to a review link.", err=True)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``web`` to the main CLI."""
    app.command("serve")(serve)
    app.add_typer(web_app, name="web")
