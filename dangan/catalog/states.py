"""Allowed status transitions, in one place, for every stateful catalog entity.

``transition`` is the only function that changes a status column; it refuses anything not listed here and
appends an audit event when an actor is given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dangan.errors import InvalidTransition

# entity → {from_state: {allowed targets}}
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "scan_batch": {
        "open": frozenset({"complete", "failed"}),
        "complete": frozenset({"open"}),  # re-run of the same source
        "failed": frozenset({"open"}),
    },
    # A page moves forward through the pipeline; reprocessing moves it back to an earlier stage.
    "page": {
        "ingested": frozenset({"preprocessed", "failed"}),
        "preprocessed": frozenset({"ocr_done", "ingested", "failed"}),
        "ocr_done": frozenset({"extracted", "preprocessed", "failed"}),
        "extracted": frozenset({"validated", "needs_review", "ocr_done", "preprocessed", "failed"}),
        "needs_review": frozenset({"validated", "extracted", "preprocessed", "failed"}),
        "validated": frozenset({"extracted", "ocr_done", "preprocessed", "needs_review"}),
        "failed": frozenset({"ingested", "preprocessed"}),
    },
    "document": {
        "registered": frozenset({"extracted", "failed"}),
        "extracted": frozenset({"validated", "needs_review", "registered"}),
        "needs_review": frozenset({"validated", "extracted", "rescan"}),
        "validated": frozenset({"extracted", "needs_review"}),
        # a reviewer rejected the pages as unreadable: scan again, then reprocess (``--qa-code REVIEW_RESCAN``)
        "rescan": frozenset({"registered", "extracted"}),
        "failed": frozenset({"registered"}),
    },
    "quarantine_item": {
        "open": frozenset({"released", "discarded"}),
    },
    "person": {
        "active": frozenset({"transferred_out"}),
        "transferred_out": frozenset({"active"}),
    },
    "transfer": {
        "requested": frozenset({"packaged", "failed"}),
        "packaged": frozenset({"copied", "failed"}),
        "copied": frozenset({"verified", "failed"}),
        "verified": frozenset({"committed", "failed"}),
        "committed": frozenset({"done"}),
        "done": frozenset(),
        "failed": frozenset(),
    },
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
