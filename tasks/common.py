"""Shared task plumbing: Prefect task retries from the domain's one retry policy module (:mod:`dangan.retry`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from dangan.errors import is_transient
from dangan.retry import RetryPolicy


def retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry storage/network/lock errors, never bad input."""
    return _failed_with(state, is_transient)


def _failed_with(state: Any, retry_on: Callable[[BaseException], bool]) -> bool:
    try:
        state.result(raise_on_failure=True)
    except Exception as exc:  # the task's own exception is re-raised here
        return retry_on(exc)
    return False


class TaskRetries(TypedDict):
    """The retry options of ``@task`` (what :func:`task_retries` returns)."""

    retries: int
    retry_delay_seconds: list[float]
    retry_jitter_factor: float
    retry_condition_fn: Callable[[Any, Any, Any], bool]


def task_retries(policy: RetryPolicy) -> TaskRetries:
    """``@task(**task_retries(STORE))``: Prefect retries ``policy`` as the plain driver would (same number of
    tries, same waits, only the errors ``policy.retry_on`` accepts). Prefect's jitter only lengthens a wait (by
    up to ``jitter``·wait), where :func:`dangan.retry.call_with_retry` spreads it both ways."""
    if policy.retry_on is is_transient:
        condition: Callable[[Any, Any, Any], bool] = retry_transient_only
    else:

        def condition(task: Any, task_run: Any, state: Any) -> bool:
            return _failed_with(state, policy.retry_on)

    return {
        "retries": policy.retries,
        "retry_delay_seconds": policy.delays(),
        "retry_jitter_factor": policy.jitter,
        "retry_condition_fn": condition,
    }


# Lease on global concurrency slots (ocr-gpu, storage-{site}): renewed while the holder lives; a SIGKILLed
# worker's slots come back after this plus the server's 15 s repossessor pass. Prefect's default (300 s) made
# a migration rerun right after a crash wait five minutes for the dead worker's storage slots.
SLOT_LEASE_S = 60.0
