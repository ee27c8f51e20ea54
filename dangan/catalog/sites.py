"""Site registry: county sites, where their catalog and objects live.

The home catalog (``Settings.home_catalog_url``) holds the registry. A site's own catalog may be the home
catalog (embedded default: several sites in one data folder) or a separate database; either way the site row
is present in the site's catalog too, so foreign keys hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from dangan.access import SITES_ADMIN, require
from dangan.catalog import audit
from dangan.catalog.db import has_literal_password, session_scope
from dangan.catalog.models import Master, Site
from dangan.catalog.schema import upgrade
from dangan.config import Settings, validate_site_code
from dangan.errors import ConfigError, DanganError, PermissionDenied, SiteChangeRefused, SiteNotFound


@dataclass(frozen=True)
class SiteRef:
    """Resolved locations of one site (plain values: safe to pass to Prefect tasks)."""

    code: str
    name: str
    catalog_url: str
    store_url: str


#: masters checked in the new store (or catalog) before a site with objects is re-pointed there
SAMPLE_SIZE = 20


def add_site(
    settings: Settings,
    code: str,
    name: str,
    *,
    store_url: str | None = None,
    catalog_url: str | None = None,
    update: bool = False,
    force: bool = False,
    actor: str | None = None,
) -> SiteRef:
    """Register a site, or change a registered one; creates its catalog schema when separate.

    For a registered site an omitted location keeps the current one. Changing its store or catalog URL needs
    ``update`` and the ``sites.admin`` permission, and, when the site already has objects, evidence that the new
    location holds them (a sample of its masters) unless ``force``: re-pointing a live site at an empty store
    made every object of it "missing". Every change and every refusal is appended to the home catalog's audit
    trail with the actor.
    """
    try:
        validate_site_code(code)
    except ValueError as exc:
        raise ConfigError(str(exc), code_given=code) from exc
    if store_url and "@" in store_url.split("?", 1)[0]:
        raise ConfigError("credentials must not be written into a store URL", hint="Use access_key_env=NAME.")
    if catalog_url and has_literal_password(catalog_url):
        raise ConfigError(
            "the catalog URL contains a password; it would be stored in the site registry",
            hint="Write it as postgresql://user:${DANGAN_PG_PASSWORD}@host/db and set that variable.",
        )
    who = actor or settings.actor
    home = settings.home_catalog_url
    upgrade(home)
    with session_scope(home) as s:
        site = s.get(Site, code)
        before = None if site is None else _ref(settings, site)
        if site is not None:
            store_url = site.store_url if store_url is None else store_url
            catalog_url = site.catalog_url if catalog_url is None else catalog_url
    after = SiteRef(code, name, catalog_url or home, store_url or settings.default_store_url)
    if before == after:
        return before  # nothing changes: nothing to authorise or record
    moved = before is not None and (before.store_url, before.catalog_url) != (after.store_url, after.catalog_url)
    change = _describe(before, after)
    if moved:
        assert before is not None
        _authorise_move(settings, home, who, before, after, change, update=update, force=force)
    with session_scope(home) as s:
        site = s.get(Site, code) or Site(code=code, name=name)
        site.name, site.store_url, site.catalog_url = name, store_url, catalog_url
        s.add(site)
        audit.record(
            s,
            actor=who,
            action="site.registered" if before is None else "site.moved" if moved else "site.renamed",
            entity_type="site",
            entity_id=code,
            site_code=code,
            details={**change, **({"forced": True} if force and moved else {})},
        )
    ref = get_site(settings, code)
    if ref.catalog_url != home:
        upgrade(ref.catalog_url)
        with session_scope(ref.catalog_url) as s:
            local = s.get(Site, code) or Site(code=code, name=name)
            local.name, local.store_url, local.catalog_url = name, store_url, catalog_url
            s.add(local)
    return ref


def _describe(before: SiteRef | None, after: SiteRef) -> dict[str, Any]:
    """Audit details of a registry change: display-safe locations (no credentials), before and after."""
    from dangan.catalog.db import safe_url
    from dangan.storage.factory import describe_store_url

    def shown(ref: SiteRef | None) -> dict[str, str] | None:
        if ref is None:
            return None
        return {"name": ref.name, "store": describe_store_url(ref.store_url), "catalog": safe_url(ref.catalog_url)}

    return {"before": shown(before), "after": shown(after)}


def _authorise_move(
    settings: Settings,
    home: str,
    who: str,
    before: SiteRef,
    after: SiteRef,
    change: dict[str, Any],
    *,
    update: bool,
    force: bool,
) -> None:
    """Refuse (and record the refusal) a re-pointing without ``--update``, permission or evidence."""
    code = before.code

    def refuse(exc: DanganError) -> NoReturn:
        record_refusal(home, who, "site.moved", "site", code, code, exc, change)
        raise exc

    if not update:
        refuse(
            SiteChangeRefused(
                f"site {code} is registered with other locations; `sites add` does not re-point a site",
                hint="To move the site's catalog or objects, run `dangan sites add CODE --name NAME --store URL "
                "--update` as an operator with sites.admin "
                "(站点已登记；修改存储位置需 --update 并具备 sites.admin 权限).",
                site=code,
                **change,
            )
        )
    try:
        require(settings, SITES_ADMIN, f"re-point site {code}", who)
    except PermissionDenied as exc:
        refuse(exc)
    if force:
        return
    sample = _sample_masters(before.catalog_url, code)
    if not sample:
        return  # no objects yet: nothing can go missing
    lacking = _lacking(sample, after, code)
    if lacking:
        refuse(
            SiteChangeRefused(
                f"site {code} has objects, and the new location lacks {len(lacking)} of {len(sample)} sampled "
                "masters; after the change they would all be reported missing",
                hint="Copy the site's objects (and catalog) to the new location first and run the command again; "
                "--force re-points anyway (先迁移对象再修改站点位置；--force 强制修改).",
                site=code,
                lacking=lacking[:5],
                sampled=len(sample),
                **change,
            )
        )


def _sample_masters(catalog_url: str, code: str) -> list[tuple[str, str, int]]:
    """Up to :data:`SAMPLE_SIZE` masters of the site (key, sha256, size), spread evenly over its ids."""
    with session_scope(catalog_url) as s:
        total = s.scalar(select(func.count()).select_from(Master).where(Master.site_code == code)) or 0
        if not total:
            return []
        step = max(1, total // SAMPLE_SIZE)
        rows = s.execute(
            select(Master.object_key, Master.sha256, Master.size).where(Master.site_code == code).order_by(Master.id)
        ).all()
    picked = list(rows[::step][:SAMPLE_SIZE])
    if rows[-1] not in picked:
        picked[-1] = rows[-1]
    return [(str(k), str(h), int(n)) for k, h, n in picked]


def _lacking(sample: list[tuple[str, str, int]], after: SiteRef, code: str) -> list[str]:
    """Keys of sampled masters the new store does not hold byte-identical, or the new catalog does not list."""
    from dangan.errors import ObjectNotFound
    from dangan.storage.factory import open_store

    store = open_store(after.store_url)
    lacking: list[str] = []
    for key, sha, size in sample:
        try:
            info = store.stat(key)
        except ObjectNotFound:
            lacking.append(key)
            continue
        if info.size != size or (info.sha256 is not None and info.sha256 != sha):
            lacking.append(key)
    try:
        with session_scope(after.catalog_url) as s:
            listed = set(
                s.scalars(
                    select(Master.sha256).where(Master.site_code == code, Master.sha256.in_([h for _, h, _ in sample]))
                )
            )
    except SQLAlchemyError:  # no catalog there yet
        listed = set()
    lacking += [key for key, sha, _ in sample if sha not in listed and key not in lacking]
    return lacking


def record_refusal(
    catalog_url: str,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    site_code: str | None,
    exc: DanganError,
    details: dict[str, Any] | None = None,
) -> None:
    """Append a refused attempt to the audit trail (its code and reason), in its own transaction."""
    with session_scope(catalog_url) as s:
        audit.record(
            s,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            site_code=site_code,
            outcome="refused",
            details={**(details or {}), "code": exc.code, "reason": exc.message},
        )


def get_site(settings: Settings, code: str) -> SiteRef:
    """Resolve a registered site, or raise :class:`SiteNotFound`."""
    with session_scope(settings.home_catalog_url) as s:
        site = s.get(Site, code)
        if site is None:
            raise SiteNotFound(f"site {code} is not registered", site=code)
        return _ref(settings, site)


def list_sites(settings: Settings) -> list[SiteRef]:
    """Every registered site, by code."""
    with session_scope(settings.home_catalog_url) as s:
        return [_ref(settings, site) for site in s.scalars(select(Site).order_by(Site.code))]


def _ref(settings: Settings, site: Site) -> SiteRef:
    return SiteRef(
        code=site.code,
        name=site.name,
        catalog_url=site.catalog_url or settings.home_catalog_url,
        store_url=site.store_url or settings.default_store_url,
    )
