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


@pytest.fixture
def third_site(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> SiteRef:
    """A third county (330110) in the same home catalog: somewhere else an archive could (wrongly) go too."""
    from dangan.catalog.sites import add_site

    return add_site(settings, "330110", "杭州市余杭区", store_url=str(settings.data_dir / "store-third"))
