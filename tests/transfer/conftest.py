"""Fixtures for transfer tests: two registered sites with local stores, fast retries, a Prefect harness."""

from __future__ import annotations

import pytest

from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.transfer.retry import RetryPolicy
from tests.transfer.archive import register_sites

FAST = RetryPolicy(attempts=3, base=0.01, cap=0.05)


@pytest.fixture
def sites(settings: Settings) -> tuple[SiteRef, SiteRef]:
    """Source 330106 and destination 330108 in one home catalog, each with its own folder store."""
    return register_sites(settings)
