"""Shared task plumbing: retry only transient errors, settings travel as small dicts."""

from __future__ import annotations

from typing import Any

from dangan.config import Settings, load_settings
from dangan.errors import is_transient


def retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry storage/network/lock errors, never bad input."""
    try:
        state.result(raise_on_failure=True)
    except Exception as exc:  # the task's own exception is re-raised here
        return is_transient(exc)
    return False


def settings_payload(settings: Settings) -> dict[str, Any]:
    """The settings a task needs, as a small JSON-able dict (flow parameters stay small)."""
    return settings.model_dump(mode="json", exclude={"actor"}) | {"actor": settings.actor}


def settings_from(payload: dict[str, Any]) -> Settings:
    return load_settings(**payload)


#: The retry policy of chunk tasks: transient errors only, growing delays with jitter (spreads retries of many
#: chunks that hit the same outage).
TRANSIENT_RETRY: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [2, 10, 30],
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient_only,
}

# Lease on global concurrency slots (ocr-gpu, storage-{site}): renewed while the holder lives; a SIGKILLed
# worker's slots come back after this plus the server's 15 s repossessor pass. Prefect's default (300 s) made
# a migration rerun right after a crash wait five minutes for the dead worker's storage slots.
SLOT_LEASE_S = 60.0
