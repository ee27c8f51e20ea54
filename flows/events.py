"""Prefect events for domain happenings, so automations can react (names are stable)."""

from __future__ import annotations

from typing import Any

from dangan.pii import scrub


def emit_domain_event(event: str, site: str, subject: str, payload: dict[str, Any] | None = None) -> None:
    """Emit ``event`` about ``subject`` at ``site``; never lets event delivery break the flow."""
    try:
        from prefect.events import emit_event

        emit_event(
            event=event,
            resource={"prefect.resource.id": f"dangan.site.{site}.{scrub(subject)}", "dangan.site": site},
            payload={k: scrub(str(v)) for k, v in (payload or {}).items()},
        )
    except Exception:  # events are best-effort observability
        pass
