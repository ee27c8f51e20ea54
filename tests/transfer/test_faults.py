"""Fault tests with real processes and servers: SIGKILL the worker mid-transfer, stop the S3 server."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Person, Transfer
from dangan.config import Settings
from dangan.storage import open_store
from dangan.transfer import request_transfer, run_step, run_transfer
from dangan.transfer.driver import outcome
from dangan.transfer.protocol import FAULT_ENV
from dangan.transfer.retry import RetryPolicy
from tests.transfer.archive import DST, SRC, make_archive, register_sites
from tests.transfer.test_protocol import assert_arrived

REPO = Path(__file__).resolve().parents[2]


def run_cli(settings: Settings, person: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process (``--local``: no Prefect server to start), optionally killed."""
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env |= {"DANGAN_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(REPO)}
    if kill_at:
        env[FAULT_ENV] = kill_at
    args = ["transfer", "--person", person, "--from", SRC, "--to", DST, "--json", "--local"]
    return subprocess.run(
        [sys.executable, "-m", "cli.transfer", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def source_trail(url: str, transfer_id: str) -> list[str]:
    with session_scope(url) as s:
        stmt = select(AuditEvent.action).where(AuditEvent.entity_id == transfer_id)
        return list(s.scalars(stmt.order_by(AuditEvent.id)))


@pytest.mark.parametrize(
    ("kill_at", "separate", "state_after_kill"),
    [("copy:3", False, "packaged"), ("verified", False, "verified"), ("receiver-committed", True, "verified")],
)
def test_kill_worker_and_resume(
    settings: Settings, tmp_path: Path, kill_at: str, separate: bool, state_after_kill: str
) -> None:
    dst_catalog = f"sqlite:///{tmp_path / 'receiver.db'}" if separate else None
    src, dst = register_sites(settings, dst_catalog=dst_catalog)
    archive = make_archive(src, 7)
    killed = run_cli(settings, archive.resident_id, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with session_scope(src.catalog_url) as s:
        row = s.scalars(select(Transfer)).one()
        assert row.state == state_after_kill
        person = s.scalars(select(Person).filter_by(site_code=SRC)).one()
        assert person.status == "active"  # source untouched until commit
    if kill_at.startswith("copy:"):
        assert 3 <= sum(1 for _ in open_store(dst.store_url).list(f"sites/{DST}/")) < len(archive.masters) + 3
    if separate:
        with session_scope(dst.catalog_url) as s:
            assert s.get(Transfer, row.id).state == "committed"  # type: ignore[union-attr]
    resumed = run_cli(settings, archive.resident_id)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert set(result) >= {"transfer_id", "state", "package", "receipt"}
    assert (result["transfer_id"], result["state"]) == (row.id, "done")
    assert_arrived(settings, src, dst, archive, outcome(settings, SRC, row.id))
    trail = source_trail(src.catalog_url, row.id)
    for state in ("requested", "packaged", "copied", "verified", "committed", "done"):
        assert trail.count(f"transfer.{state}") == 1, trail
    assert_audit_clean(settings, SRC, DST)  # every object the receiver's rows name was packaged, nothing left over


def test_store_down_then_back(settings: Settings, s3_server: Any, s3_bucket: str, caplog: Any) -> None:
    """The destination S3 server dies before the copy and comes back (fresh: moto forgets everything)."""
    src, dst = register_sites(settings, dst_store=s3_server.url(s3_bucket, "dangan"))
    archive = make_archive(src, 8)
    tid = request_transfer(settings, archive.resident_id, SRC, DST)
    assert run_step(settings, SRC, tid) == "packaged"
    s3_server.stop()
    restart = threading.Timer(2.0, s3_server.start)
    restart.start()
    try:
        with caplog.at_level(logging.WARNING, logger="dangan.transfer.retry"):
            out = run_transfer(
                settings, archive.resident_id, SRC, DST, retry=RetryPolicy(attempts=12, base=0.2, cap=1.0)
            )
    finally:
        restart.join()
        s3_server.start()
    assert out.transfer_id == tid
    assert any("STORE_UNAVAILABLE" in r.getMessage() for r in caplog.records)
    assert_arrived(settings, src, dst, archive, out)
    assert_audit_clean(settings, SRC, DST)


def test_kill_migration_and_rerun(settings: Settings, tmp_path: Path) -> None:
    """``dangan migrate`` SIGKILLed in the middle of a person's transfer: the rerun finishes everyone, once."""
    src, _ = register_sites(settings)
    archives = [make_archive(src, 50 + i, documents=1, pages=1) for i in range(3)]
    ids_file = tmp_path / "moving.txt"
    ids_file.write_text("\n".join(a.resident_id for a in archives), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env |= {"DANGAN_DATA_DIR": str(settings.data_dir), "PREFECT_HOME": str(settings.prefect_home)}
    env |= {"PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "cli.transfer", "migrate", "--from", SRC, "--to", DST]
    args += ["--ids-file", str(ids_file), "--chunk-size", "1", "--max-concurrent", "1", "--json"]

    def migrate(kill_at: str | None) -> subprocess.CompletedProcess[str]:
        out, err = tmp_path / "out.txt", tmp_path / "err.txt"  # files: a full pipe would block the child
        with out.open("w") as fo, err.open("w") as fe:
            proc = subprocess.Popen(
                args,
                env=env | ({FAULT_ENV: kill_at} if kill_at else {}),
                cwd=REPO,
                stdout=fo,
                stderr=fe,
                start_new_session=True,  # the ephemeral Prefect server it starts goes with the group below
            )
            try:
                proc.wait(timeout=300)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        return subprocess.CompletedProcess(args, proc.returncode, out.read_text(), err.read_text())

    killed = migrate("verified")  # the first person's package is verified at the receiver, not committed
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with session_scope(src.catalog_url) as s:
        assert [t.state for t in s.scalars(select(Transfer))] == ["verified"]
    rerun = migrate(None)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    report = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert report["by_status"] == {"done": 3} and report["balanced"], report
    with session_scope(src.catalog_url) as s:
        transfers = list(s.scalars(select(Transfer)))
        assert len(transfers) == 3 and {t.state for t in transfers} == {"done"}  # one per person, none repeated
        for t in transfers:
            trail = source_trail(src.catalog_url, t.id)
            assert trail.count("transfer.committed") == 1, trail
    for archive in archives:
        assert archive.resident_id not in rerun.stdout + rerun.stderr  # masked in what the operator sees


# --- refusals say why; failed transfers leave both sites audit-clean ------------------------------------------


def assert_audit_clean(settings: Settings, *sites: str) -> None:
    """``dangan fixity`` (the same domain function) passes at each site with nothing untracked or missing."""
    from dangan.fixity import audit_registered_site

    for site in sites:
        report = audit_registered_site(settings, site)
        assert report.passed and not report.findings, (site, [f.to_dict() for f in report.findings])


def quarantined(url: str, site: str) -> list[tuple[str, str]]:
    from dangan.catalog.models import QuarantineItem

    with session_scope(url) as s:
        items = s.scalars(select(QuarantineItem).where(QuarantineItem.site_code == site))
        return sorted((q.object_key or "", q.status) for q in items)


def test_refused_transfer_says_why_and_leaves_both_sites_clean(settings: Settings, tmp_path: Path) -> None:
    """The receiver already holds the person: the refusal carries its problem list to ``--json``; what the
    transfer copied there is removed or quarantined, so both fixity audits pass, after a rerun too."""
    src, dst = register_sites(settings, dst_catalog=f"sqlite:///{tmp_path / 'receiver.db'}")
    archive = make_archive(src, 31)
    make_archive(dst, 31, documents=1, pages=1, size=80)  # same person, other scans, already at the receiver
    assert_audit_clean(settings, SRC, DST)
    for attempt in range(2):  # the rerun is a new transfer that fails the same way and adds nothing
        done = run_cli(settings, archive.resident_id)
        assert done.returncode == 1, done.stderr[-2000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert (out["state"], out["reason_code"]) == ("failed", "TRANSFER_RECEIVER_CONFLICT")
        assert [p["code"] for p in out["problems"]] == ["TRANSFER_RECEIVER_CONFLICT"]
        assert out["problems"][0]["hint"] and out["problems"][0]["hint_zh"] and out["hint"]
        assert archive.resident_id not in done.stdout + done.stderr
        assert out["cleanup"]["quarantined"] == (4 if attempt == 0 else 0)
        assert not list(open_store(dst.store_url).list(f"sites/{DST}/packages/"))
        assert_audit_clean(settings, SRC, DST)
    masters = sorted(k.replace(SRC, DST, 1) for k in archive.masters if "/masters/" in k)
    assert quarantined(dst.catalog_url, DST) == [(k, "open") for k in masters]


def test_verify_failure_carries_problems_and_a_rerun_adopts_what_was_left(
    settings: Settings, sites: tuple[Any, Any]
) -> None:
    """A master corrupted on the way: the outcome names the file and code with a hint that helps; the receiver
    keeps nothing unexplained; the rerun commits and releases the quarantined masters; both audits pass."""
    from dangan.transfer.driver import context, drive
    from dangan.transfer.protocol import default_opener
    from tests.transfer.test_protocol import CorruptingStore

    src, dst = sites
    archive = make_archive(src, 32)
    tid = request_transfer(settings, archive.resident_id, SRC, DST)
    assert run_step(settings, SRC, tid) == "packaged"
    victim = sorted(k for k in archive.masters if "/masters/" in k)[2]

    def opener(ref: Any) -> Any:
        store = default_opener(ref)
        return CorruptingStore(store, victim) if ref.code == SRC else store

    fast = RetryPolicy(attempts=2, base=0.01, cap=0.02)
    assert drive(lambda: context(settings, SRC, tid, opener=opener, actor="test"), fast) == "failed"
    failed = outcome(settings, SRC, tid)
    assert failed.reason_code == "STORE_CHECKSUM_MISMATCH"
    assert [(p["code"], p["file"]) for p in failed.problems] == [
        ("STORE_CHECKSUM_MISMATCH", victim.replace(SRC, DST, 1))
    ]
    assert "fixity" in failed.problems[0]["hint"] and failed.to_dict()["problems"] == failed.problems
    assert failed.cleanup is not None and failed.cleanup["quarantined"] == 2  # masters copied before the bad one
    assert_audit_clean(settings, SRC, DST)
    rerun = run_transfer(settings, archive.resident_id, SRC, DST, retry=fast)
    assert rerun.state == "done" and rerun.problems == []
    assert_arrived(settings, src, dst, archive, rerun)
    assert {status for _, status in quarantined(dst.catalog_url, DST)} == {"released"}
    assert_audit_clean(settings, SRC, DST)


def test_refused_bag_lists_problems_in_json(settings: Settings, sites: tuple[Any, Any], tmp_path: Path) -> None:
    """``dangan package import --json`` of a bag whose content the receiver rejects prints every problem."""
    import typer
    from typer.testing import CliRunner

    from cli.transfer import register
    from dangan.transfer import export_package

    src, _ = sites
    archive = make_archive(src, 33, documents=1)
    folder = tmp_path / "usb"
    export_package(settings, archive.resident_id, SRC, folder)
    victim = next((folder / "data" / "derivatives").rglob("*.png"))
    victim.write_bytes(b"MZ" + victim.read_bytes()[2:])  # an executable where a scan belongs
    app = typer.Typer()
    register(app)
    env = {"DANGAN_DATA_DIR": str(settings.data_dir)}
    result = CliRunner(env=env).invoke(app, ["package", "import", str(folder), "--site", DST, "--json"])
    assert result.exit_code == 2, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert (out["state"], out["reason_code"]) == ("refused", "TRANSFER_BAG_REFUSED")
    named = victim.relative_to(folder).as_posix()
    found = {(p["code"], p["file"]) for p in out["problems"]}
    assert {("EXECUTABLE_CONTENT", named), ("CHECKSUM_MISMATCH", named)} <= found, found
    assert all(p["hint"] for p in out["problems"])
    assert archive.resident_id not in result.stdout
    assert_audit_clean(settings, SRC, DST)
