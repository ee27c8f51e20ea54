"""Prefect flows (few runs: the harness is slow): the CLI's transfer flow and a resumable regional migration."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.transfer.reconcile import select_persons
from tests.transfer.archive import DST, SRC, make_archive, row_counts

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_cli_transfer_runs_the_flow(
    settings: Settings, sites: tuple[SiteRef, SiteRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.cli_transfer import register

    src, _ = sites
    archive = make_archive(src, 21, documents=1)
    monkeypatch.setenv("DANGAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PREFECT_HOME", str(settings.prefect_home))  # restored after: the CLI only setdefaults
    app = typer.Typer()
    register(app)
    args = ["transfer", "--person", archive.resident_id, "--from", SRC, "--to", DST, "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"transfer_id", "state", "package", "receipt"} <= set(out)
    assert out["state"] == "done" and out["receipt"]["verifying_site"] == DST
    again = CliRunner().invoke(app, ["transfer", "--person", archive.resident_id, "--from", SRC, "--to", DST, "--json"])
    assert json.loads(again.stdout.strip().splitlines()[-1])["transfer_id"] == out["transfer_id"]


def test_regional_migration_is_resumable_and_reconciled(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    from flows.migrate import regional_migration
    from tasks.common import settings_payload

    src, dst = sites
    archives = [make_archive(src, 30 + i, documents=1, pages=2) for i in range(3)]
    # one person already moved before the migration (an interrupted earlier run): accounted for, not redone
    from dangan.transfer import run_transfer

    first = run_transfer(settings, archives[0].resident_id, SRC, DST)
    assert first.state == "done"
    assert select_persons(settings, SRC, DST, {"category": "养老保险"}) == sorted(a.resident_id for a in archives)
    report: dict[str, Any] = regional_migration(
        SRC, DST, selector="all", max_concurrent=2, chunk_size=2, settings=settings_payload(settings)
    )
    assert report["selected"] == report["accounted"] == 3
    assert report["by_status"] == {"done": 3} and report["balanced"], report
    assert report["source"]["master_bytes"] == report["destination"]["master_bytes"] > 0
    assert report["limits"] == {f"storage-{SRC}": "created", f"storage-{DST}": "created"}
    assert all(a.resident_id not in json.dumps(report) for a in archives)  # masked only
    assert row_counts(src.catalog_url, SRC)["transfers"] == 3  # one per person, none repeated
    assert row_counts(dst.catalog_url, DST)["persons"] == 3
