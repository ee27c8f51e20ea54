"""Allowed status transitions, in one place, for every stateful catalog entity.

``transition`` is the only function that changes a status column; it refuses anything not listed here and
appends an audit event when an actor is given.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from dangan.errors import InvalidTransition


# The states of each entity. StrEnum members are their strings (``PageState.VALIDATED == "validated"``), so the
# catalog columns, JSON reports and Prefect parameters keep the same values; code names the member, not the text.
class BatchState(StrEnum):
    """A scan batch (one ingest of one source folder)."""

    OPEN = "open"
    COMPLETE = "complete"
    FAILED = "failed"


class PageState(StrEnum):
    """A page, as it moves through the pipeline (reprocessing moves it back to an earlier stage)."""

    INGESTED = "ingested"
    PREPROCESSED = "preprocessed"
    OCR_DONE = "ocr_done"
    EXTRACTED = "extracted"
    NEEDS_REVIEW = "needs_review"
    VALIDATED = "validated"
    FAILED = "failed"


class DocumentState(StrEnum):
    """A document (one form of one person, one or more pages)."""

    REGISTERED = "registered"
    EXTRACTED = "extracted"
    NEEDS_REVIEW = "needs_review"
    VALIDATED = "validated"
    RESCAN = "rescan"
    FAILED = "failed"


class QuarantineState(StrEnum):
    """A quarantined file or object."""

    OPEN = "open"
    RELEASED = "released"
    DISCARDED = "discarded"


class PersonState(StrEnum):
    """A person's dossier at a site."""

    ACTIVE = "active"
    TRANSFERRED_OUT = "transferred_out"


class TransferState(StrEnum):
    """A cross-site transfer (the ``state`` column; the protocol's steps in order, then ``done`` or ``failed``)."""

    REQUESTED = "requested"
    PACKAGED = "packaged"
    COPIED = "copied"
    VERIFIED = "verified"
    COMMITTED = "committed"
    DONE = "done"
    FAILED = "failed"


_B, _P, _D, _Q, _H, _T = BatchState, PageState, DocumentState, QuarantineState, PersonState, TransferState

# entity → {from_state: {allowed targets}}
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "scan_batch": {
        _B.OPEN: frozenset({_B.COMPLETE, _B.FAILED}),
        _B.COMPLETE: frozenset({_B.OPEN}),  # re-run of the same source
        _B.FAILED: frozenset({_B.OPEN}),
    },
    # A page moves forward through the pipeline; reprocessing moves it back to an earlier stage.
    "page": {
        _P.INGESTED: frozenset({_P.PREPROCESSED, _P.FAILED}),
        _P.PREPROCESSED: frozenset({_P.OCR_DONE, _P.INGESTED, _P.FAILED}),
        _P.OCR_DONE: frozenset({_P.EXTRACTED, _P.PREPROCESSED, _P.FAILED}),
        _P.EXTRACTED: frozenset({_P.VALIDATED, _P.NEEDS_REVIEW, _P.OCR_DONE, _P.PREPROCESSED, _P.FAILED}),
        _P.NEEDS_REVIEW: frozenset({_P.VALIDATED, _P.EXTRACTED, _P.PREPROCESSED, _P.FAILED}),
        _P.VALIDATED: frozenset({_P.EXTRACTED, _P.OCR_DONE, _P.PREPROCESSED, _P.NEEDS_REVIEW}),
        _P.FAILED: frozenset({_P.INGESTED, _P.PREPROCESSED}),
    },
    "document": {
        _D.REGISTERED: frozenset({_D.EXTRACTED, _D.FAILED}),
        _D.EXTRACTED: frozenset({_D.VALIDATED, _D.NEEDS_REVIEW, _D.REGISTERED}),
        _D.NEEDS_REVIEW: frozenset({_D.VALIDATED, _D.EXTRACTED, _D.RESCAN}),
        _D.VALIDATED: frozenset({_D.EXTRACTED, _D.NEEDS_REVIEW}),
        # a reviewer rejected the pages as unreadable: scan again, then reprocess (``--qa-code REVIEW_RESCAN``)
        _D.RESCAN: frozenset({_D.REGISTERED, _D.EXTRACTED}),
        _D.FAILED: frozenset({_D.REGISTERED}),
    },
    "quarantine_item": {
        _Q.OPEN: frozenset({_Q.RELEASED, _Q.DISCARDED}),
    },
    "person": {
        _H.ACTIVE: frozenset({_H.TRANSFERRED_OUT}),
        _H.TRANSFERRED_OUT: frozenset({_H.ACTIVE}),
    },
    "transfer": {
        _T.REQUESTED: frozenset({_T.PACKAGED, _T.FAILED}),
        _T.PACKAGED: frozenset({_T.COPIED, _T.FAILED}),
        _T.COPIED: frozenset({_T.VERIFIED, _T.FAILED}),
        _T.VERIFIED: frozenset({_T.COMMITTED, _T.FAILED}),
        _T.COMMITTED: frozenset({_T.DONE}),
        _T.DONE: frozenset(),
        _T.FAILED: frozenset(),
    },
}

# The enum of each entity's states (tests check the table and the enums agree).
STATES: dict[str, type[StrEnum]] = {
    "scan_batch": BatchState,
    "page": PageState,
    "document": DocumentState,
    "quarantine_item": QuarantineState,
    "person": PersonState,
    "transfer": TransferState,
}

STATUS_ATTR = {"transfer": "state"}


def can_transition(entity: str, current: str, target: str) -> bool:
    """True when ``entity`` may move from ``current`` to ``target`` (same state is a no-op, allowed)."""
    if current == target:
        return True
    return target in TRANSITIONS[entity].get(current, frozenset())


def transition(
    session: Session,
    obj: Any,
    target: str,
    *,
    actor: str | None = None,
    site_code: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Move ``obj`` to ``target`` if allowed; return False when it already was there.

    Raises :class:`InvalidTransition` for a move the table does not allow.
    """
    target = str(target)  # a state enum member → its plain value (what the row loads back; messages quote it)
    entity = obj.__tablename__
    attr = STATUS_ATTR.get(entity, "status")
    current = getattr(obj, attr)
    if current == target:
        return False
    if not can_transition(entity, current, target):
        raise InvalidTransition(entity, current, target)
    setattr(obj, attr, target)
    if actor:
        from dangan.catalog.audit import record  # local import: audit imports models only

        record(
            session,
            actor=actor,
            action=f"{entity}.{target}",
            entity_type=entity,
            entity_id=str(obj.id if hasattr(obj, "id") else obj.code),
            site_code=site_code or getattr(obj, "site_code", None),
            details={"from": current, "to": target, **(details or {})},
        )
    return True
