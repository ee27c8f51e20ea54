"""Prefect flows (few runs: the harness is slow): the CLI's transfer flow and a resumable regional migration."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.errors import ConfigError
from dangan.transfer.reconcile import parse_selector, person_ids_for, select_persons
from tests.transfer.archive import DST, SRC, make_archive, row_counts

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_cli_transfer_runs_the_flow(
    settings: Settings, sites: tuple[SiteRef, SiteRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.transfer import register

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
    from flows.params import config_ref

    src, dst = sites
    archives = [make_archive(src, 30 + i, documents=1, pages=2) for i in range(3)]
    # one person already moved before the migration (an interrupted earlier run): accounted for, not redone
    from dangan.transfer import run_transfer

    first = run_transfer(settings, archives[0].resident_id, SRC, DST)
    assert first.state == "done"
    ids, missing = person_ids_for(settings, SRC, [a.resident_id for a in archives])
    assert len(ids) == 3 and missing == []
    assert select_persons(settings, SRC, DST, {"category": "养老保险"}) == ids
    report: dict[str, Any] = regional_migration(
        SRC, DST, selector="all", max_concurrent=2, chunk_size=2, config=config_ref(settings)
    )
    assert report["selected"] == report["accounted"] == 3
    assert report["by_status"] == {"done": 3} and report["balanced"], report
    assert report["source"]["master_bytes"] == report["destination"]["master_bytes"] > 0
    assert report["limits"] == {f"storage-{SRC}": "created", f"storage-{DST}": "created"}
    assert all(a.resident_id not in json.dumps(report) for a in archives)  # masked only
    assert row_counts(src.catalog_url, SRC)["transfers"] == 3  # one per person, none repeated
    assert row_counts(dst.catalog_url, DST)["persons"] == 3


def test_migration_selector_refuses_resident_ids() -> None:
    with pytest.raises(ConfigError) as err:
        parse_selector({"resident_ids": ["110105194912310029"]})
    assert "--ids-file" in (err.value.hint or "") and "110105194912310029" not in str(err.value)
    assert parse_selector({"person_ids": ["3", 1, 3]}) == {"person_ids": [1, 3]}
    with pytest.raises(ConfigError):
        parse_selector({"person_ids": ["x"]})


def test_cli_migrate_keeps_resident_ids_out_of_prefect(
    settings: Settings, sites: tuple[SiteRef, SiteRef], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """``dangan migrate --ids-file``: the flow run's parameters and logs carry catalog ids, never resident IDs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId

    from cli.transfer import register
    from dangan.pii import mask_id
    from tests.transfer.archive import resident

    src, _ = sites
    archives = [make_archive(src, 60 + i, documents=1, pages=1) for i in range(2)]
    stranger = resident(99)  # valid, but not held by the source site
    ids_file = tmp_path / "ids.txt"
    listed = f"# people moving to {DST}\n{archives[0].resident_id}\n\n{stranger.lower()}\n"
    ids_file.write_text(listed, encoding="utf-8")
    monkeypatch.setenv("DANGAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PREFECT_HOME", str(settings.prefect_home))
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["migrate", "--from", SRC, "--to", DST, "--ids-file", str(ids_file), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["selected"] == 1 and report["by_status"] == {"done": 1}, report
    assert mask_id(stranger) in result.stderr and stranger not in result.output  # reported, masked
    assert row_counts(src.catalog_url, SRC)["transfers"] == 1  # only the listed person moved
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=None)))
        mine = [r for r in runs if r.parameters.get("from_site") == SRC and "person_ids" in str(r.parameters)]
        assert mine, "the migration flow run was not found"
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in mine])))
    recorded = json.dumps([r.parameters for r in mine], ensure_ascii=False) + "".join(log.message for log in logs)
    for rid in (archives[0].resident_id, archives[1].resident_id, stranger):
        assert rid not in recorded and rid.lower() not in recorded


def test_failed_transfer_flow_reports_problems(
    settings: Settings, sites: tuple[SiteRef, SiteRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow's ``dangan.transfer.failed`` event and artifact carry the problem list (masked)."""
    import flows.transfer as flow_module
    from cli.transfer import register

    src, dst = sites
    archive = make_archive(src, 24, documents=1)
    make_archive(dst, 24, documents=1, pages=1, size=80)  # the receiver already holds this person
    events: list[tuple[str, dict[str, Any]]] = []
    artifacts: list[str] = []
    monkeypatch.setattr(flow_module, "emit_domain_event", lambda name, _s, _t, payload: events.append((name, payload)))
    monkeypatch.setattr(flow_module, "create_markdown_artifact", lambda text, **_kw: artifacts.append(text))
    monkeypatch.setenv("DANGAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PREFECT_HOME", str(settings.prefect_home))
    app = typer.Typer()
    register(app)
    args = ["transfer", "--person", archive.resident_id, "--from", SRC, "--to", DST, "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert [p["code"] for p in out["problems"]] == ["TRANSFER_RECEIVER_CONFLICT"]
    [(name, payload)] = events
    assert name == "dangan.transfer.failed" and payload["reason"] == "TRANSFER_RECEIVER_CONFLICT"
    assert [p["code"] for p in payload["problems"]] == ["TRANSFER_RECEIVER_CONFLICT"]
    assert "| `TRANSFER_RECEIVER_CONFLICT` |" in artifacts[0]
    assert archive.resident_id not in json.dumps(payload, ensure_ascii=False) + artifacts[0]
