"""Append-only audit trail: who did what, when, with which outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dangan.catalog.models import AuditEvent
from dangan.pii import scrub


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    site_code: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction (free-text details are PII-scrubbed)."""
    clean = {k: scrub(v) if isinstance(v, str) else v for k, v in (details or {}).items()}
    event = AuditEvent(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        site_code=site_code,
        outcome=outcome,
        details=clean,
    )
    session.add(event)
    return event


def record_now(
    catalog_url: str,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    site_code: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    """:func:`record` in a transaction of its own: the event stands even if what follows fails."""
    from dangan.catalog.db import session_scope

    with session_scope(catalog_url) as s:
        record(
            s,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            site_code=site_code,
            outcome=outcome,
            details=details,
        )
