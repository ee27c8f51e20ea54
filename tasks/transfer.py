"""Prefect tasks for archive transfer: one task per protocol step, one per migration chunk.

Retries: :data:`dangan.retry.TRANSFER` (the plain driver's policy too), for transient errors only
(``StoreUnavailable``, ``CatalogUnavailable``); a permanent error has already ended the transfer as ``failed``
inside the step.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import task

from dangan.config import Settings
from dangan.retry import TRANSFER
from dangan.transfer import driver
from tasks.common import SLOT_LEASE_S, task_retries


@dataclass(frozen=True)
class PersonMoved:
    """How one person's transfer of a migration chunk ended (``state`` ``error``: it could not be driven)."""

    person: str  # masked resident ID, or ``#<catalog id>`` when the source does not hold the person
    transfer_id: str | None
    state: str
    reason_code: str | None


@task(name="transfer-request", **task_retries(TRANSFER))
def request_task(settings: Settings, person_id: int, from_site: str, to_site: str) -> str:
    """Record (or find) the open transfer of source catalog person ``person_id``; returns its id.

    Takes the catalog row id, not the resident ID: Prefect stores task parameters unmasked."""
    return driver.request_transfer(settings, driver.resident_id_of(settings, from_site, person_id), from_site, to_site)


@task(name="transfer-step", task_run_name="transfer-{state}", **task_retries(TRANSFER))
def step_task(
    settings: Settings, from_site: str, transfer_id: str, state: str = "", keep_source: bool | None = None
) -> str:
    """Run the step the transfer's recorded state calls for (``state``: what it was, for the run's name);
    returns the new state."""
    return driver.run_step(settings, from_site, transfer_id, keep_source=keep_source)


@task(name="migrate-chunk", task_run_name="migrate-chunk-{index}")
def migrate_chunk_task(
    settings: Settings, from_site: str, to_site: str, person_ids: list[int], index: int = 0, limits: bool = True
) -> list[PersonMoved]:
    """Transfer each person (source catalog id) of a chunk, one at a time, holding a ``storage-{site}`` slot
    on both sites; each transfer is driven with the :data:`~dangan.retry.TRANSFER` policy.

    Every person is accounted for: an exhausted transient error is reported, not raised, so the other
    chunks go on and a later run resumes that person from its recorded state.
    """
    from prefect.concurrency.sync import concurrency

    from dangan.errors import DanganError
    from dangan.pii import mask_id
    from dangan.transfer.errors import TransferPersonNotFound
    from dangan.transfer.reconcile import resident_ids_of

    not_found = TransferPersonNotFound.code

    known = resident_ids_of(settings, from_site, person_ids)
    results: list[PersonMoved] = []
    for pid in person_ids:
        person = known.get(pid)
        if person is None:
            results.append(PersonMoved(f"#{pid}", None, "error", not_found))
            continue
        try:
            if limits:
                slots = [f"storage-{from_site}", f"storage-{to_site}"]
                with concurrency(slots, occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
                    out = driver.run_transfer(settings, person, from_site, to_site, retry=TRANSFER)
            else:
                out = driver.run_transfer(settings, person, from_site, to_site, retry=TRANSFER)
            results.append(PersonMoved(mask_id(person), out.transfer_id, out.state, out.reason_code))
        except DanganError as exc:
            results.append(PersonMoved(mask_id(person), None, "error", exc.code))
    return results
