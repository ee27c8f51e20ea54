"""Inserts that never violate a unique constraint: ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite).

Catching ``IntegrityError`` after a duplicate insert is race-safe, but PostgreSQL writes every violation to its
server log with the key: ``DETAIL: Key (site_code, resident_id)=(330106, 330106198…) already exists.`` — a full
resident ID (or a file name holding one) in a log that is not ours to mask. Rows keyed by personal data are
therefore inserted here, with the conflict resolved by the statement itself; the caller re-reads the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

_DIALECTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def insert_unless_conflict(session: Session, model: type, values: dict[str, Any]) -> Any | None:
    """Insert one ``model`` row (column defaults applied) unless a unique key already holds it.

    Returns the new row's primary key, or ``None`` when a unique constraint or index (partial ones included)
    already had a matching row: nothing is inserted and no error reaches the server log. Runs in the caller's
    transaction. Other dialects fall back to a savepointed ORM insert (their logs are not a concern here).
    """
    session.flush()  # pending rows first, so that the statement sees them
    table = model.__table__  # type: ignore[attr-defined]
    (pk,) = table.primary_key.columns
    make = _DIALECTS.get(session.get_bind().dialect.name)
    if make is None:
        from sqlalchemy.exc import IntegrityError

        try:
            with session.begin_nested():
                obj = model(**values)
                session.add(obj)
            return getattr(obj, pk.key)
        except IntegrityError:
            return None
    stmt = make(table).values(**values).on_conflict_do_nothing().returning(pk)
    return session.execute(stmt).scalar_one_or_none()
