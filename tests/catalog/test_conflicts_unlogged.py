"""Duplicate inserts of rows keyed by a resident ID never violate the key, so PostgreSQL's server log never gets
``DETAIL: Key (site_code, resident_id)=(330106, 330106…) already exists.`` (a full ID in a log nobody masks)."""

from __future__ import annotations

import glob
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from dangan.catalog.db import session_scope
from dangan.catalog.models import Person, Site, Transfer
from dangan.catalog.schema import upgrade
from dangan.ingest.register import insert_or_get
from dangan.transfer import rows

LOGS = "/var/log/postgresql/*.log"


def _resident_id() -> str:
    """A fresh 18-character ID for this test, so other tests' log lines cannot match (or hide) ours."""
    return "330106" + str(uuid.uuid4().int)[:11] + "X"


def _log_sizes() -> dict[str, int]:
    return {p: Path(p).stat().st_size for p in glob.glob(LOGS)}


def _logged_since(sizes: dict[str, int]) -> str:
    out = []
    for path in glob.glob(LOGS):
        with open(path, "rb") as f:
            f.seek(sizes.get(path, 0))
            out.append(f.read().decode("utf-8", "replace"))
    return "".join(out)


def _setup(url: str) -> dict[str, int]:
    if url.startswith("postgresql") and not glob.glob(LOGS):
        pytest.skip(f"no PostgreSQL server log readable at {LOGS}")
    upgrade(url)
    with session_scope(url) as s:
        s.add_all([Site(code="330106", name="西湖区"), Site(code="330108", name="滨江区")])
    return _log_sizes()


def _person(s, rid: str) -> Person:  # type: ignore[no-untyped-def]
    return insert_or_get(
        s, Person, {"site_code": "330106", "resident_id": rid}, {"resident_id_masked": "masked", "name": None}
    )


def _wait_until_blocked(url: str) -> None:
    """Until a session of this catalog waits on a row lock (the racing insert reached the database)."""
    if not url.startswith("postgresql"):
        return
    while True:
        with session_scope(url) as s:
            waiting = s.execute(
                text("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%person%'")
            ).scalar_one()
        if waiting:
            return
        threading.Event().wait(0.05)


def test_racing_person_inserts_share_one_row_and_log_no_id(catalog_url: str) -> None:
    sizes = _setup(catalog_url)
    rid = _resident_id()
    result: dict[str, int] = {}
    if catalog_url.startswith("postgresql"):
        # A inserts and holds its transaction open; B looks (nothing committed yet) and inserts too: B waits for A,
        # then meets A's row. Catching a unique violation there is what used to write the ID to the log.
        with session_scope(catalog_url) as a:
            first = _person(a, rid).id

            def other() -> None:
                with session_scope(catalog_url) as b:
                    result["id"] = _person(b, rid).id

            racer = threading.Thread(target=other)
            racer.start()
            _wait_until_blocked(catalog_url)
        racer.join()
    else:  # SQLite serializes writers: the same call twice
        with session_scope(catalog_url) as a:
            first = _person(a, rid).id
        with session_scope(catalog_url) as b:
            result["id"] = _person(b, rid).id
    assert result["id"] == first
    with session_scope(catalog_url) as s:
        assert len(s.scalars(select(Person).filter_by(resident_id=rid)).all()) == 1
    logged = _logged_since(sizes) if catalog_url.startswith("postgresql") else ""
    assert rid not in logged and rid[6:14] not in logged


def test_second_transfer_request_to_same_site_logs_no_id(catalog_url: str) -> None:
    sizes = _setup(catalog_url)
    rid = _resident_id()
    ids = []
    for _ in range(2):
        with session_scope(catalog_url) as s:
            row, created = rows.open_or_create(
                s, resident_id=rid, from_site="330106", to_site="330108", state="requested"
            )
            ids.append((row.id, created))
    assert ids[0][1] is True and ids[1] == (ids[0][0], False)
    with session_scope(catalog_url) as s:
        assert len(s.scalars(select(Transfer).filter_by(person_resident_id=rid)).all()) == 1
    logged = _logged_since(sizes) if catalog_url.startswith("postgresql") else ""
    assert rid not in logged and rid[6:14] not in logged
