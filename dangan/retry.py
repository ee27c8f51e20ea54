"""The one retry policy of dangan: exponential backoff with jitter, for transient errors only.

A :class:`RetryPolicy` says how often and how patiently a unit of work is tried again. Two executors read the
same policy: :func:`call_with_retry` (plain Python: the CLI without Prefect, the transfer driver, kill tests,
the benchmark) and Prefect's task retries (``tasks.common.task_retries`` turns a policy into task options).
Only errors ``retry_on`` accepts are retried (by default :class:`~dangan.errors.TransientError`: a store,
catalog or lock that may come back); bad input and integrity failures fail at once.

The named policies below are the only ones in use; a task or driver picks one by what it waits on.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dangan.errors import is_transient

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; before retry ``n`` wait ``min(cap, base·2ⁿ⁻¹)`` seconds scaled by 1±``jitter``.

    ``retry_on`` decides which exceptions are worth another try (default: transient ``DanganError`` only).
    The defaults are :data:`TRANSFER`'s.
    """

    attempts: int = 6
    base: float = 2.0
    cap: float = 60.0
    jitter: float = 0.5
    retry_on: Callable[[BaseException], bool] = is_transient

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.cap < 0 or not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid retry policy {self!r}")

    @property
    def retries(self) -> int:
        """Retries after the first try."""
        return self.attempts - 1

    def nominal_delay(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based), without jitter."""
        return float(min(self.cap, self.base * 2 ** (retry - 1)))

    def delays(self) -> list[float]:
        """The nominal wait before each retry, in order (what Prefect's ``retry_delay_seconds`` takes)."""
        return [self.nominal_delay(n) for n in range(1, self.attempts)]

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), with jitter: retries of many chunks that hit
        the same outage spread out instead of arriving together."""
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return max(0.0, self.nominal_delay(retry) * spread)


#: No retry: one try (a caller whose executor retries already, e.g. a Prefect task with its own policy).
NO_RETRY = RetryPolicy(attempts=1)
#: Short catalog bookkeeping: plan a run, open or close a batch, fold chunk results (2 s, 4 s).
CATALOG = RetryPolicy(attempts=3, base=2.0, cap=10.0)
#: A chunk of work against object stores and the catalog: ingest, extraction, fixity, replication (2, 4, 8 s).
STORE = RetryPolicy(attempts=4, base=2.0, cap=30.0)
#: OCR chunks and searchable PDFs: the models stay loaded, an outage of the store is usually longer (5, 10 s).
OCR = RetryPolicy(attempts=3, base=5.0, cap=30.0)
#: One step of an archive transfer between sites (the other site may be down for a while): 2, 4, 8, 16, 32 s.
TRANSFER = RetryPolicy(attempts=6, base=2.0, cap=60.0)


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; on an error ``policy.retry_on`` accepts, wait and try again, up to ``policy.attempts`` tries."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if not policy.retry_on(exc) or attempt == policy.attempts:
                raise
            wait = policy.delay(attempt)
            log.warning("transient %s (try %d of %d); retrying in %.1f s", exc, attempt, policy.attempts, wait)
            sleep(wait)
    raise AssertionError("unreachable")
