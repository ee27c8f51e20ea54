"""Site registry: county sites, where their catalog and objects live.

The home catalog (``Settings.home_catalog_url``) holds the registry. A site's own catalog may be the home
catalog (embedded default: several sites in one data folder) or a separate database; either way the site row
is present in the site's catalog too, so foreign keys hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dangan.catalog.db import has_literal_password, session_scope
from dangan.catalog.models import Site
from dangan.catalog.schema import upgrade
from dangan.config import Settings, validate_site_code
from dangan.errors import ConfigError, SiteNotFound


@dataclass(frozen=True)
class SiteRef:
    """Resolved locations of one site (plain values: safe to pass to Prefect tasks)."""

    code: str
    name: str
    catalog_url: str
    store_url: str


def add_site(
    settings: Settings, code: str, name: str, *, store_url: str | None = None, catalog_url: str | None = None
) -> SiteRef:
    """Register (or update the name/locations of) a site; creates its catalog schema when separate."""
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
    home = settings.home_catalog_url
    upgrade(home)
    with session_scope(home) as s:
        site = s.get(Site, code) or Site(code=code, name=name)
        site.name, site.store_url, site.catalog_url = name, store_url, catalog_url
        s.add(site)
    ref = get_site(settings, code)
    if ref.catalog_url != home:
        upgrade(ref.catalog_url)
        with session_scope(ref.catalog_url) as s:
            local = s.get(Site, code) or Site(code=code, name=name)
            local.name, local.store_url, local.catalog_url = name, store_url, catalog_url
            s.add(local)
    return ref


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
