"""Resolve a registered site (and where a repair may copy from) to catalog + stores, and audit it in-process.

Repair by content searches, in order: the ``--repair-from`` site's store (when named), the site's replica
targets from ``[replication]``, then every other registered site's store (an archive transferred to another
county is kept there under that county's keys), and the site's own store last (another site's key in a
shared store). A removable medium that is not mounted is skipped.
"""

from __future__ import annotations

from dangan.catalog.sites import SiteRef, get_site, list_sites
from dangan.config import Settings
from dangan.errors import DanganError
from dangan.fixity.audit import audit_site
from dangan.fixity.errors import RepairSourceInvalid
from dangan.fixity.locate import ContentFinder, RepairSource
from dangan.fixity.model import FixityReport
from dangan.storage.base import ObjectStore
from dangan.storage.factory import open_store


def site_stores(
    settings: Settings, site: str, repair_from: str | None = None
) -> tuple[SiteRef, ObjectStore, ObjectStore | None]:
    """The site, its store, and the store of site ``repair_from`` (searched first by a repair).

    ``repair_from`` naming the damaged site itself is refused (``RepairSourceInvalid``).
    """
    ref = get_site(settings, site)
    store = open_store(ref.store_url)
    if repair_from is None:
        return ref, store, None
    replica_ref = get_site(settings, repair_from)
    if replica_ref.code == ref.code:
        raise RepairSourceInvalid(f"--repair-from {repair_from} is the audited site itself", site=site)
    return ref, store, open_store(replica_ref.store_url)


def repair_finder(settings: Settings, site: str, repair_from: str | None = None) -> ContentFinder:
    """Every store a repair of ``site`` may copy from, in search order (see the module docstring)."""
    from dangan.replication.targets import open_target, targets_for  # replication imports fixity

    ref, _, _ = site_stores(settings, site, repair_from)
    sites = list_sites(settings)
    sources: list[RepairSource] = []
    seen: set[str] = set()

    def add(name: str, url: str, store: ObjectStore | None = None) -> None:
        if url in seen:
            return
        seen.add(url)
        sources.append(RepairSource(name, store if store is not None else open_store(url), url))

    if repair_from is not None:
        add(f"site:{repair_from}", get_site(settings, repair_from).store_url)
    for target in targets_for(settings, ref.code):
        try:
            add(f"replica:{target.name}", target.url, open_target(target))
        except DanganError:
            continue  # an unmounted removable medium or an unusable target: search the others
    for other in sites:
        if other.code != ref.code:
            add(f"site:{other.code}", other.store_url)
    add(f"site:{ref.code}", ref.store_url)
    return ContentFinder(sources, [s.code for s in sites], list_limit=settings.replication.search_limit)


def audit_registered_site(
    settings: Settings,
    site: str,
    *,
    sample_fraction: float = 1.0,
    seed: int | None = None,
    chunk: int | None = None,
    repair_from: str | None = None,
    repair: bool = False,
) -> FixityReport:
    """``audit_site`` on a registered site, without Prefect (CLI ``--local``, tests, debugging).

    ``repair`` (implied by ``repair_from``) repairs damaged objects by content from any store the
    configuration names; ``repair_from`` is searched first.
    """
    ref = get_site(settings, site)
    store = open_store(ref.store_url)
    finder = repair_finder(settings, site, repair_from) if repair or repair_from else None
    return audit_site(
        ref.catalog_url,
        store,
        ref.code,
        sample_fraction=sample_fraction,
        seed=seed,
        chunk=chunk,
        finder=finder,
        location=ref.store_url,
        actor=settings.actor,
    )
