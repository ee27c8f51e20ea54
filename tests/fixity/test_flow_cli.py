"""The ``fixity-audit`` flow (artifacts, events) and the ``dangan fixity`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.fixity import register
from dangan.storage import LocalStore
from flows.params import config_ref
from tests.fixity.conftest import REPLICA, SITE, Archive, add_replica, corrupt_local


@pytest.fixture
def cli(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """A CLI with the fixity command, using the archive's settings as the main CLI would."""
    from cli.support import State

    monkeypatch.setattr(State, "settings", archive.settings)
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Test root (keeps ``fixity`` a sub-command)."""

    register(app)
    return app


def test_flow_artifacts_events_and_repair(
    prefect_harness: None, archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    import flows.fixity
    from flows.fixity import fixity_audit

    events: list[tuple[str, str, str, dict[str, Any]]] = []
    monkeypatch.setattr(flows.fixity, "emit_domain_event", lambda *a: events.append(a))
    store = archive.store
    assert isinstance(store, LocalStore)
    add_replica(archive, tmp_path)
    corrupt_local(store, archive.masters[0])
    (store.root / archive.masters[1]).unlink()
    config = config_ref(archive.settings)

    report = fixity_audit(SITE, config=config, chunk_size=4)
    assert not report.passed and len(report.checked_keys) == len(archive.all_keys)
    assert {(f.key, f.status) for f in report.findings} == {
        (archive.masters[0], "changed"),
        (archive.masters[1], "missing"),
    }
    assert sorted((e[0], e[2]) for e in events) == [
        ("dangan.fixity.failed", archive.masters[0]),
        ("dangan.fixity.failed", archive.masters[1]),
    ]
    assert {e[1] for e in events} == {SITE} and events[0][3]["run_id"] == report.run_id
    with get_client(sync_client=True) as client:
        arts = {a.key: a for a in client.read_artifacts() if a.key and a.key.endswith(SITE)}
    assert {f"fixity-summary-{SITE}", f"fixity-findings-{SITE}", f"fixity-progress-{SITE}"} <= set(arts)
    assert "2 failure(s) remain" in str(arts[f"fixity-summary-{SITE}"].data)
    assert archive.masters[0] in str(arts[f"fixity-findings-{SITE}"].data)

    events.clear()
    repaired = fixity_audit(SITE, repair_from=REPLICA, config=config)
    assert repaired.passed and repaired.counts()["repaired"] == 2
    assert sorted(e[0] for e in events) == ["dangan.fixity.repaired"] * 2


def test_cli_flow_run_reports_failure(prefect_harness: None, archive: Archive, cli: typer.Typer) -> None:
    store = archive.store
    assert isinstance(store, LocalStore)
    corrupt_local(store, archive.derivatives[0])
    result = CliRunner().invoke(cli, ["fixity", "--site", SITE, "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert [(f["key"], f["status"]) for f in report["findings"]] == [(archive.derivatives[0], "changed")]


def test_cli_local_tables_sampling_and_exit_codes(archive: Archive, cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(cli, ["fixity", "--site", SITE, "--local"])
    assert clean.exit_code == 0, clean.output
    assert "all verified" in clean.stdout and "catalogued" in clean.stdout

    sampled = runner.invoke(cli, ["fixity", "--site", SITE, "--local", "--sample", "0.5", "--seed", "3", "--json"])
    assert sampled.exit_code == 0, sampled.output
    body = json.loads(sampled.stdout)
    assert (body["seed"], body["sample_fraction"]) == (3, 0.5) and body["checked"] < body["catalogued"]

    store = archive.store
    assert isinstance(store, LocalStore)
    add_replica(archive, tmp_path)
    corrupt_local(store, archive.masters[2])
    broken = runner.invoke(cli, ["fixity", "--site", SITE, "--local"])
    assert broken.exit_code == 1
    assert "Findings" in broken.stdout and "changed" in broken.stdout and "1 failure(s) remain" in broken.stdout

    fixed = runner.invoke(cli, ["fixity", "--site", SITE, "--local", "--repair-from", REPLICA])
    assert fixed.exit_code == 0, fixed.output
    assert "all verified" in fixed.stdout

    bad = runner.invoke(cli, ["fixity", "--site", SITE, "--local", "--sample", "2"])
    assert bad.exit_code == 2 and "CONFIG_INVALID" in bad.stderr
    unknown = runner.invoke(cli, ["fixity", "--site", "110101", "--local"])
    assert unknown.exit_code == 2 and "SITE_NOT_FOUND" in unknown.stderr
