"""``dangan replicate`` (tables, exit codes) and the ``replication`` / ``replica-audit`` flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.replicate import register
from dangan.config import Settings
from dangan.storage import LocalStore, open_store
from flows.params import config_ref
from tests.fixity.conftest import corrupt_local
from tests.fixity.test_repair_by_content import masters_of, with_replica
from tests.transfer.archive import SRC, make_archive, register_sites


def _cli(cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    from cli.support import State

    monkeypatch.setattr(State, "settings", cfg)
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Test root (keeps ``replicate`` a sub-command)."""

    register(app)
    return app


def test_replicate_command_copies_then_audits(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _ = register_sites(settings)
    cfg = with_replica(settings, str(tmp_path / "replica"))
    archive = make_archive(src, 6, documents=1)
    app = _cli(cfg, monkeypatch)
    runner = CliRunner()
    first = runner.invoke(app, ["replicate", "--site", SRC, "--local"])
    assert first.exit_code == 0, first.output
    assert "Replication · site 330106" in first.output
    again = runner.invoke(app, ["replicate", "--site", SRC, "--local", "--json"])
    (summary,) = json.loads(again.output)
    assert (summary["copied"], summary["already"], summary["failed"]) == (0, 2, [])
    replica = open_store(str(tmp_path / "replica"))
    assert isinstance(replica, LocalStore)
    corrupt_local(replica, masters_of(archive)[0])
    audit = runner.invoke(app, ["replicate", "--site", SRC, "--local", "--audit"])
    assert audit.exit_code == 1 and "REPLICA_DAMAGED" in audit.output


def test_replication_flows(prefect_harness: None, settings: Settings, tmp_path: Path) -> None:
    from flows.replication import replica_audit, replication

    src, _ = register_sites(settings)
    cfg = with_replica(settings, str(tmp_path / "replica"))
    make_archive(src, 7, documents=1)
    config = config_ref(cfg)
    (first,) = replication(SRC, config=config)
    assert (first.target, first.copied, first.failed) == ("offsite", 2, [])
    (second,) = replication(SRC, config=config)
    assert (second.copied, second.already) == (0, 2)
    (audit,) = replica_audit(SRC, config=config)
    assert (audit.already, audit.damaged, audit.missing) == (2, 0, 0)
