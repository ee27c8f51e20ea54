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
            payload={
                k: _scrubbed(v) if isinstance(v, dict | list) else scrub(str(v)) for k, v in (payload or {}).items()
            },
        )
    except Exception:  # events are best-effort observability
        pass


def _scrubbed(value: Any) -> Any:
    """JSON-able ``value`` with ID-like tokens masked in every string (lists and dicts keep their shape, so a
    problem list stays a list of objects an automation can read)."""
    if isinstance(value, dict):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))
