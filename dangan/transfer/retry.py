"""The transfer's retry policy lives in :mod:`dangan.retry` (one policy module for every task and driver)."""

from __future__ import annotations

from dangan.retry import NO_RETRY, TRANSFER, RetryPolicy, call_with_retry

__all__ = ["NO_RETRY", "TRANSFER", "RetryPolicy", "call_with_retry"]
