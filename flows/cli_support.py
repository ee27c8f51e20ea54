"""What every ``dangan`` command module shares: the settings loaded once, consoles, and error printing."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from dangan.config import Settings, apply_offline_environment, load_settings
from dangan.errors import DanganError

console = Console()
err_console = Console(stderr=True)


class State:
    """Settings loaded by the main callback (``--data-dir``); None until then."""

    settings: Settings | None = None


def cli_settings() -> Settings:
    """The settings the main CLI loaded, else load them here (a command module used on its own)."""
    if State.settings is None:
        State.settings = load_settings()
        apply_offline_environment(State.settings)
    return State.settings


def fail(exc: DanganError) -> NoReturn:
    """Print a dangan error for an operator (code, message, files concerned, what to do) and exit 2."""
    # messages and hints are plain text: "[access]" or a file name in brackets is not rich markup
    err_console.print(f"[bold red]Error {exc.code}[/]: {escape(exc.message)}")
    for name in exc.details.get("files") or []:
        err_console.print(f"  · {escape(str(name))}")
    if exc.hint:
        err_console.print(f"[yellow]What to do:[/] {escape(exc.hint)}")
    raise typer.Exit(2)
