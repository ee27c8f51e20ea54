"""Transfer rows: request (one open transfer per person + destination), locked state moves, failure, mirrors.

Every state move locks the row first: the transaction's first statement is an UPDATE of the row (``attempts``
+1), which takes the row lock on PostgreSQL and the write lock on SQLite, so the state read afterwards cannot
change under us and two workers never both make the same move. Moves go through ``states.transition`` (the
one table of allowed moves, with an audit event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dangan.catalog.audit import record
from dangan.catalog.conflicts import insert_unless_conflict
from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Transfer
from dangan.catalog.states import transition
from dangan.errors import CatalogRowConflict, DanganError
from dangan.pii import mask_id
from dangan.transfer.errors import TransferAlreadyOpen, TransferNotFound, TransferStateError
from dangan.transfer.receipt import ReceiptJson

ORDER = ("requested", "packaged", "copied", "verified", "committed", "done")
FINAL = ("done", "failed")


@dataclass(frozen=True)
class TransferInfo:
    """A transfer row as plain values."""

    id: str
    resident_id: str
    person_masked: str
    from_site: str
    to_site: str
    state: str
    reason_code: str | None
    receipt: ReceiptJson  # the signed receipt as stored ({} until done); dangan.transfer.receipt.Receipt reads it
    created_at: datetime

    @classmethod
    def of(cls, row: Transfer) -> TransferInfo:
        return cls(
            row.id,
            row.person_resident_id,
            row.person_masked,
            row.from_site,
            row.to_site,
            row.state,
            row.reason_code,
            dict(row.receipt or {}),
            row.created_at,
        )


def reached(state: str, target: str) -> bool:
    """True when ``state`` is ``target`` or later on the happy path."""
    return state in ORDER and ORDER.index(state) >= ORDER.index(target)


def lock(session: Session, transfer_id: str) -> Transfer:
    """Lock and return the row (see module docstring); :class:`TransferNotFound` when absent."""
    result = session.execute(update(Transfer).where(Transfer.id == transfer_id).values(attempts=Transfer.attempts + 1))
    if getattr(result, "rowcount", 1) == 0:
        raise TransferNotFound(f"transfer {transfer_id} not found", transfer_id=transfer_id)
    stmt = select(Transfer).where(Transfer.id == transfer_id).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def load(url: str, transfer_id: str) -> TransferInfo | None:
    """The row in catalog ``url``, or ``None``."""
    with session_scope(url) as s:
        row = s.get(Transfer, transfer_id)
        return TransferInfo.of(row) if row is not None else None


def open_or_create(
    session: Session, *, resident_id: str, from_site: str, to_site: str, transfer_id: str | None = None, state: str
) -> tuple[Transfer, bool]:
    """Insert a transfer, or return the open one for this person + destination (the partial unique index
    ``uq_transfer_open_person_dest`` decides between concurrent requests). Returns ``(row, created)``."""
    if transfer_id is not None and (row := session.get(Transfer, transfer_id)) is not None:
        return row, False
    _refuse_other_destination(session, resident_id, from_site, to_site)
    values: dict[str, str] = {"id": transfer_id} if transfer_id else {}
    # ON CONFLICT DO NOTHING, not a caught IntegrityError: PostgreSQL logs a violation with the resident ID
    new = insert_unless_conflict(
        session,
        Transfer,
        {
            "person_resident_id": resident_id,
            "person_masked": mask_id(resident_id),
            "from_site": from_site,
            "to_site": to_site,
            "state": state,
            **values,
        },
    )
    if new is not None:
        return session.get_one(Transfer, new), True
    stmt = select(Transfer).where(
        Transfer.person_resident_id == resident_id,
        Transfer.to_site == to_site,
        Transfer.state.not_in(FINAL),
    )
    found = session.scalars(stmt).first()
    if found is None:  # the id itself collided: another worker inserted this very transfer
        found = session.get(Transfer, transfer_id) if transfer_id else None
    if found is None:  # a concurrent request to another destination won the per-source index
        _refuse_other_destination(session, resident_id, from_site, to_site)
        raise CatalogRowConflict(
            f"transfer of {mask_id(resident_id)} to {to_site} could not be inserted nor found",
            table="transfer",
            to_site=to_site,
        )
    return found, False


def _refuse_other_destination(session: Session, resident_id: str, from_site: str, to_site: str) -> None:
    """:class:`TransferAlreadyOpen` when the person has an open transfer from ``from_site`` elsewhere."""
    other = session.scalars(
        select(Transfer).where(
            Transfer.person_resident_id == resident_id,
            Transfer.from_site == from_site,
            Transfer.to_site != to_site,
            Transfer.state.not_in(FINAL),
        )
    ).first()
    if other is not None:
        raise TransferAlreadyOpen(
            f"person {mask_id(resident_id)} already has open transfer {other.id} from {from_site} to "
            f"{other.to_site} ({other.state})",
            transfer_id=other.id,
            site=from_site,
        )


def advance(url: str, transfer_id: str, src: str, target: str, *, actor: str, site: str, details: Any = None) -> bool:
    """Move ``src`` → ``target`` under the row lock; no-op (False) when already there or later."""
    with session_scope(url) as s:
        row = lock(s, transfer_id)
        if reached(row.state, target):
            return False
        if row.state != src:
            raise TransferStateError(
                f"transfer {transfer_id} is {row.state}, expected {src}", transfer_id=transfer_id, state=row.state
            )
        transition(s, row, target, actor=actor, site_code=site, details=details or {})
        return True


def fail(url: str, transfer_id: str, exc: DanganError, *, actor: str, site: str) -> bool:
    """Record a permanent failure (state ``failed``, reason code, audit event with the offending object)."""
    with session_scope(url) as s:
        row = lock(s, transfer_id)
        if row.state in ("failed", "committed", "done"):
            return False  # a committed transfer cannot fail any more: finishing is only retried
        previous = row.state
        transition(s, row, "failed")
        row.reason_code = exc.code
        record(
            s,
            actor=actor,
            action="transfer.failed",
            entity_type="transfer",
            entity_id=transfer_id,
            site_code=site,
            outcome="failed",
            details={"from": previous, "reason_code": exc.code, "error": exc.to_dict()},
        )
        return True


def state_times(url: str, transfer_id: str) -> dict[str, str]:
    """When each state was reached, from the audit trail of catalog ``url`` (UTC ISO 8601)."""
    with session_scope(url) as s:
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "transfer", AuditEvent.entity_id == transfer_id)
            .order_by(AuditEvent.id)
        )
        times: dict[str, str] = {}
        for event in events:
            state = event.action.removeprefix("transfer.")
            at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)  # SQLite drops the zone
            times.setdefault(state, at.isoformat())
        return times


def walk(session: Session, row: Transfer, target: str, *, actor: str, site: str, details: Any = None) -> bool:
    """Move a (mirror) row forward one allowed step at a time until it reaches ``target``."""
    moved = False
    while row.state in ORDER and not reached(row.state, target):
        transition(session, row, ORDER[ORDER.index(row.state) + 1], actor=actor, site_code=site, details=details or {})
        moved = True
    return moved


def catch_up(url: str, transfer_id: str, target: str, *, actor: str, site: str, details: Any = None) -> bool:
    """Bring a mirror row (the other site's copy of the transfer) up to ``target``; False if it has no row."""
    try:
        with session_scope(url) as s:
            return walk(s, lock(s, transfer_id), target, actor=actor, site=site, details=details)
    except TransferNotFound:
        return False


def event_details(url: str, transfer_id: str, action: str) -> dict[str, Any]:
    """Details of the latest audit event ``action`` of this transfer (e.g. the verification summary)."""
    with session_scope(url) as s:
        event = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_id == transfer_id, AuditEvent.action == action)
            .order_by(AuditEvent.id.desc())
        ).first()
        return dict(event.details) if event is not None else {}
