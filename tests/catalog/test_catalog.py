"""Catalog schema, state machines, audit trail and site registry on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from dangan.catalog.db import get_engine, session_scope
from dangan.catalog.models import AuditEvent, Master, Person, ScanBatch, Site, Transfer
from dangan.catalog.schema import current_revision, head_revision, upgrade
from dangan.catalog.sites import add_site, get_site, list_sites
from dangan.catalog.states import TRANSITIONS, can_transition, transition
from dangan.errors import ConfigError, InvalidTransition, SiteNotFound


def test_upgrade_creates_schema_and_is_idempotent(catalog_url: str) -> None:
    assert current_revision(catalog_url) is None
    assert upgrade(catalog_url) == head_revision()
    assert upgrade(catalog_url) == head_revision()  # second run harmless
    tables = set(inspect(get_engine(catalog_url)).get_table_names())
    expected = {
        "site",
        "scan_batch",
        "person",
        "dossier",
        "document",
        "master",
        "page",
        "derivative",
        "quality_issue",
        "quarantine_item",
        "ocr_result",
        "field",
        "transfer",
        "audit_event",
    }
    assert expected <= tables


def _seed(url: str) -> None:
    upgrade(url)
    with session_scope(url) as s:
        s.add(Site(code="330106", name="西湖区"))
        s.flush()
        s.add(ScanBatch(id="b" * 32, site_code="330106", source="x", source_key="k"))


def test_master_unique_per_site_and_sha(catalog_url: str) -> None:
    _seed(catalog_url)
    row = {
        "site_code": "330106",
        "sha256": "a" * 64,
        "size": 1,
        "format": "png",
        "object_key": "k",
        "original_name": "a.png",
        "batch_id": "b" * 32,
    }
    with session_scope(catalog_url) as s:
        s.add(Master(**row))
    with pytest.raises(IntegrityError), session_scope(catalog_url) as s:
        s.add(Master(**row))


def test_one_open_transfer_per_person_and_destination(catalog_url: str) -> None:
    _seed(catalog_url)
    t = {
        "person_resident_id": "11010519491231002X",
        "person_masked": "110105********002X",
        "from_site": "330106",
        "to_site": "110105",
    }
    with session_scope(catalog_url) as s:
        s.add(Transfer(**t))
    with pytest.raises(IntegrityError), session_scope(catalog_url) as s:
        s.add(Transfer(**t))
    with session_scope(catalog_url) as s:
        first = s.scalars(select(Transfer)).one()
        transition(s, first, "failed", actor="tester")
    with session_scope(catalog_url) as s:  # a finished transfer does not block a new one
        s.add(Transfer(**t))


def test_transitions_enforced_and_audited(catalog_url: str) -> None:
    _seed(catalog_url)
    with session_scope(catalog_url) as s:
        batch = s.get(ScanBatch, "b" * 32)
        assert transition(s, batch, "complete", actor="op1") is True
        assert transition(s, batch, "complete", actor="op1") is False  # already there: no-op, no event
        with pytest.raises(InvalidTransition) as info:
            transition(s, s.get(ScanBatch, "b" * 32), "bogus")
        assert info.value.details == {"entity": "scan_batch", "current": "complete", "target": "bogus"}
    with session_scope(catalog_url) as s:
        events = s.scalars(select(AuditEvent)).all()
        assert [(e.actor, e.action, e.details["from"], e.details["to"]) for e in events] == [
            ("op1", "scan_batch.complete", "open", "complete")
        ]


def test_transfer_state_machine_is_linear() -> None:
    path = ["requested", "packaged", "copied", "verified", "committed", "done"]
    for a, b in itertools.pairwise(path):
        assert can_transition("transfer", a, b)
    assert not can_transition("transfer", "requested", "committed")
    assert not can_transition("transfer", "done", "requested")
    assert TRANSITIONS["transfer"]["failed"] == frozenset()


def test_audit_trail_is_append_only(catalog_url: str) -> None:
    _seed(catalog_url)
    with session_scope(catalog_url) as s:
        s.add(AuditEvent(actor="a", action="x", entity_type="t", entity_id="1"))
    for stmt in ("UPDATE audit_event SET actor = 'b'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError), session_scope(catalog_url) as s:
            s.execute(text(stmt))
    with session_scope(catalog_url) as s:
        assert s.scalars(select(AuditEvent.actor)).all() == ["a"]


def test_person_unique_per_site(catalog_url: str) -> None:
    _seed(catalog_url)
    p = {"site_code": "330106", "resident_id": "11010519491231002X", "resident_id_masked": "110105********002X"}
    with session_scope(catalog_url) as s:
        s.add(Person(**p))
    with pytest.raises(IntegrityError), session_scope(catalog_url) as s:
        s.add(Person(**p))


def test_site_registry(settings, catalog_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    add_site(settings, "330106", "西湖区")
    add_site(settings, "330106", "杭州市西湖区")  # update, not duplicate
    add_site(settings, "110105", "朝阳区", catalog_url=catalog_url, store_url=str(tmp_path / "s2"))
    refs = list_sites(settings)
    assert [(r.code, r.name) for r in refs] == [("110105", "朝阳区"), ("330106", "杭州市西湖区")]
    assert refs[0].catalog_url == catalog_url
    assert refs[1].catalog_url == settings.home_catalog_url
    with session_scope(catalog_url) as s:  # the separate catalog knows its own site (foreign keys hold)
        assert s.get(Site, "110105") is not None
    with pytest.raises(SiteNotFound):
        get_site(settings, "999999")
    with pytest.raises(ConfigError):
        add_site(settings, "3301", "bad code")
    with pytest.raises(ConfigError):
        add_site(settings, "330108", "x", store_url="s3://user:secret@bucket")


def test_catalog_credentials_by_reference(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dangan.catalog.db import expand_secrets, has_literal_password

    assert has_literal_password("postgresql://u:secret@db/x")
    assert not has_literal_password("postgresql://u:${DANGAN_PG_PASSWORD}@db/x")
    assert not has_literal_password("sqlite:////tmp/x.db")
    assert expand_secrets("postgresql://u:${P}@db/x", {"P": "p@ss/word"}) == "postgresql://u:p%40ss%2Fword@db/x"
    with pytest.raises(ConfigError) as info:
        expand_secrets("postgresql://u:${MISSING_VAR}@db/x", {})
    assert info.value.details == {"variable": "MISSING_VAR"}
    with pytest.raises(ConfigError):
        add_site(settings, "110105", "朝阳区", catalog_url="postgresql://u:secret@127.0.0.1/x")
