"""Exponential backoff with jitter for transient errors only (store or catalog unavailable)."""

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
    """``attempts`` tries in all; delays ``base·2ⁿ`` capped at ``cap``, each scaled by 1±``jitter``."""

    attempts: int = 6
    base: float = 1.0
    cap: float = 60.0
    jitter: float = 0.5

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        raw = min(self.cap, self.base * 2 ** (retry - 1))
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return max(0.0, raw * spread)


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; on a transient error wait and try again, up to ``policy.attempts`` tries in all."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc) or attempt == policy.attempts:
                raise
            wait = policy.delay(attempt)
            log.warning("transient %s (try %d of %d); retrying in %.1f s", exc, attempt, policy.attempts, wait)
            sleep(wait)
    raise AssertionError("unreachable")
