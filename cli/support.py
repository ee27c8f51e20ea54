"""What every ``dangan`` command module shares: the settings loaded once, consoles, and error printing."""

from __future__ import annotations

import logging
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from dangan.config import Settings, apply_offline_environment, load_settings
from dangan.errors import DanganError
from flows import ephemeral

console = Console()
err_console = Console(stderr=True)


class _CodedErrorsWithoutTraceback(logging.Filter):
    """Prefect logs a failed task or flow run with its traceback; a coded dangan error is printed by ``fail``
    with its code and what to do, so its log line keeps the message and drops the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DanganError):
            record.exc_info = None
            record.exc_text = None
        return True


for _name in ("prefect.flow_runs", "prefect.task_runs"):
    logging.getLogger(_name).addFilter(_CodedErrorsWithoutTraceback())


class State:
    """Settings loaded by the main callback (``--data-dir``); None until then."""

    settings: Settings | None = None


def cli_settings() -> Settings:
    """The settings the main CLI loaded, else load them here (a command module used on its own)."""
    if State.settings is None:
        State.settings = load_settings()
        apply_offline_environment(State.settings)
        ephemeral.install()  # a killed command must not leave Prefect's temporary API server running
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
