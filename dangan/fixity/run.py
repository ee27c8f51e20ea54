"""Resolve a registered site (and its replica) to catalog + stores, and audit it in this process."""

from __future__ import annotations

from dangan.catalog.sites import SiteRef, get_site
from dangan.config import Settings
from dangan.errors import ConfigError
from dangan.fixity.audit import audit_site
from dangan.fixity.model import FixityReport
from dangan.storage.base import ObjectStore
from dangan.storage.factory import describe_store_url, open_store


def site_stores(
    settings: Settings, site: str, repair_from: str | None = None
) -> tuple[SiteRef, ObjectStore, ObjectStore | None]:
    """The site, its store, and the store of site ``repair_from`` (a replica holding the same keys).

    A replica that is the very same store would "repair" objects from themselves: ``ConfigError``.
    """
    ref = get_site(settings, site)
    store = open_store(ref.store_url)
    if repair_from is None:
        return ref, store, None
    replica_ref = get_site(settings, repair_from)
    if replica_ref.code == ref.code or replica_ref.store_url == ref.store_url:
        raise ConfigError(
            f"replica site {repair_from} uses the same store as site {site}: {describe_store_url(ref.store_url)}",
            hint="Register the replica site with its own --store-url.",
        )
    return ref, store, open_store(replica_ref.store_url)


def audit_registered_site(
    settings: Settings,
    site: str,
    *,
    sample_fraction: float = 1.0,
    seed: int | None = None,
    chunk: int | None = None,
    repair_from: str | None = None,
) -> FixityReport:
    """``audit_site`` on a registered site, without Prefect (CLI ``--local``, tests, debugging)."""
    ref, store, replica = site_stores(settings, site, repair_from)
    return audit_site(
        ref.catalog_url,
        store,
        ref.code,
        sample_fraction=sample_fraction,
        seed=seed,
        chunk=chunk,
        replica_store=replica,
        actor=settings.actor,
    )
