"""Catalog errors carry no personal data; a savepoint on SQLite stays inside the caller's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dangan.catalog.db import session_scope
from dangan.catalog.models import Person, Site
from dangan.catalog.schema import upgrade

RID, NAME = "33010619821207002X", "钟燕"


def _person() -> Person:
    return Person(site_code="330106", resident_id=RID, resident_id_masked="330106********002X", name=NAME)


def test_integrity_error_hides_bound_values(catalog_url: str) -> None:
    upgrade(catalog_url)
    with session_scope(catalog_url) as s:
        s.add(Site(code="330106", name="西湖区"))
        s.flush()
        s.add(_person())
    with pytest.raises(IntegrityError) as info, session_scope(catalog_url) as s:
        s.add(_person())
    text = f"{info.value}\n{info.value!r}\n{info.value.orig}"
    assert RID not in text and NAME not in text
    assert "hidden due to hide_parameters" in str(info.value)


def test_savepoint_is_part_of_the_outer_transaction(catalog_url: str) -> None:
    """Rolling back the session undoes what a released savepoint inserted (SQLite's driver used to commit)."""
    upgrade(catalog_url)
    with session_scope(catalog_url) as s:
        s.add(Site(code="330106", name="西湖区"))
    with pytest.raises(RuntimeError), session_scope(catalog_url) as s:
        with s.begin_nested():
            s.add(_person())
        raise RuntimeError("the rest of the work failed")
    with session_scope(catalog_url) as s:
        assert s.scalars(select(Person)).all() == []
