"""Prefect tasks for archive transfer: one task per protocol step, one per migration chunk.

Retries: exponential backoff with jitter, for transient errors only (``StoreUnavailable``,
``CatalogUnavailable``); a permanent error has already ended the transfer as ``failed`` inside the step.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.tasks import exponential_backoff

from dangan.transfer import driver
from dangan.transfer.retry import RetryPolicy
from tasks.common import SLOT_LEASE_S, retry_transient_only, settings_from

_RETRY: dict[str, Any] = {
    "retries": 5,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient_only,
}


@task(name="transfer-request", **_RETRY)
def request_task(settings: dict[str, Any], person_id: int, from_site: str, to_site: str) -> str:
    """Record (or find) the open transfer of source catalog person ``person_id``; returns its id.

    Takes the catalog row id, not the resident ID: Prefect stores task parameters unmasked."""
    cfg = settings_from(settings)
    return driver.request_transfer(cfg, driver.resident_id_of(cfg, from_site, person_id), from_site, to_site)


@task(name="transfer-step", task_run_name="transfer-{state}", **_RETRY)
def step_task(
    settings: dict[str, Any], from_site: str, transfer_id: str, state: str = "", keep_source: bool | None = None
) -> str:
    """Run the step the transfer's recorded state calls for; returns the new state."""
    return driver.run_step(settings_from(settings), from_site, transfer_id, keep_source=keep_source)


@task(name="migrate-chunk", task_run_name="migrate-chunk-{index}")
def migrate_chunk_task(
    settings: dict[str, Any], from_site: str, to_site: str, person_ids: list[int], index: int = 0, limits: bool = True
) -> list[dict[str, Any]]:
    """Transfer each person (source catalog id) of a chunk, one at a time, holding a ``storage-{site}`` slot
    on both sites.

    Every person is accounted for: an exhausted transient error is reported, not raised, so the other
    chunks go on and a later run resumes that person from its recorded state.
    """
    from prefect.concurrency.sync import concurrency

    from dangan.errors import DanganError
    from dangan.pii import mask_id
    from dangan.transfer.errors import TransferPersonNotFound
    from dangan.transfer.reconcile import resident_ids_of

    not_found = TransferPersonNotFound.code

    cfg = settings_from(settings)
    known = resident_ids_of(cfg, from_site, person_ids)
    results: list[dict[str, Any]] = []
    for pid in person_ids:
        person = known.get(pid)
        if person is None:
            results.append({"person": f"#{pid}", "transfer_id": None, "state": "error", "reason_code": not_found})
            continue
        try:
            if limits:
                slots = [f"storage-{from_site}", f"storage-{to_site}"]
                with concurrency(slots, occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
                    out = driver.run_transfer(cfg, person, from_site, to_site, retry=RetryPolicy())
            else:
                out = driver.run_transfer(cfg, person, from_site, to_site, retry=RetryPolicy())
            results.append(
                {
                    "person": mask_id(person),
                    "transfer_id": out.transfer_id,
                    "state": out.state,
                    "reason_code": out.reason_code,
                }
            )
        except DanganError as exc:
            results.append({"person": mask_id(person), "transfer_id": None, "state": "error", "reason_code": exc.code})
    return results
