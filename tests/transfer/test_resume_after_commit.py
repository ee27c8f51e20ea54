"""Every state of the transfer protocol resumes: a worker SIGKILLed after both sites committed, before the
receipt, is finished by rerunning the same command (it used to end TRANSFER_PERSON_NOT_ACTIVE for ever)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Person, Transfer
from dangan.config import Settings
from dangan.transfer import outcome, verify_receipt
from dangan.transfer.keys import Trust
from dangan.transfer.reconcile import reconcile, select_persons
from tests.transfer.archive import DST, SRC, make_archive, register_sites
from tests.transfer.test_faults import run_cli, source_trail
from tests.transfer.test_protocol import assert_arrived


@pytest.mark.parametrize("separate", [False, True], ids=["one-catalog", "two-catalogs"])
def test_killed_after_both_commits_is_finished_by_a_rerun(settings: Settings, tmp_path: Path, separate: bool) -> None:
    dst_catalog = f"sqlite:///{tmp_path / 'receiver.db'}" if separate else None
    src, dst = register_sites(settings, dst_catalog=dst_catalog)
    archive = make_archive(src, 31)
    killed = run_cli(settings, archive.resident_id, "committed")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with session_scope(src.catalog_url) as s:
        row = s.scalars(select(Transfer)).one()
        assert (row.state, row.receipt) == ("committed", {})
        person = s.scalars(select(Person).filter_by(site_code=SRC)).one()
        assert (person.status, person.transferred_to) == ("transferred_out", DST)
        tid = row.id
    # a migration run meanwhile accounts for the person as pending, not failed
    report = reconcile(settings, SRC, DST, select_persons(settings, SRC, DST, "all"))
    assert report["by_status"] == {"pending": 1}

    resumed = run_cli(settings, archive.resident_id)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (result["transfer_id"], result["state"]) == (tid, "done")
    out = outcome(settings, SRC, tid)
    assert_arrived(settings, src, dst, archive, out)
    verify_receipt(out.receipt or {}, Trust(settings))
    trail = source_trail(src.catalog_url, tid)
    for state in ("requested", "packaged", "copied", "verified", "committed", "done"):
        assert trail.count(f"transfer.{state}") == 1, trail
    assert reconcile(settings, SRC, DST, select_persons(settings, SRC, DST, "all"))["by_status"] == {"done": 1}
    again = run_cli(settings, archive.resident_id)  # and once more: the same finished transfer, nothing new
    assert json.loads(again.stdout.strip().splitlines()[-1])["transfer_id"] == tid
