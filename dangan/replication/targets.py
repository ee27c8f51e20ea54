"""Replica targets from ``[replication]``: resolve each to a store URL and open it safely."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.replication.errors import ReplicaTargetInvalid, ReplicaTargetUnavailable
from dangan.storage.base import ObjectStore
from dangan.storage.factory import describe_store_url, open_store


@dataclass(frozen=True)
class ReplicaTarget:
    """A resolved target (plain values): its name, store URL, and whether it is a removable medium."""

    name: str
    url: str
    removable: bool = False

    @property
    def shown(self) -> str:
        return describe_store_url(self.url)


def targets_for(settings: Settings, site: str, names: list[str] | None = None) -> list[ReplicaTarget]:
    """The targets that serve ``site`` (all, or those ``names`` asks for), by name.

    Refuses a target that is the site's own store: a "second copy" there is no copy at all.
    """
    configured = settings.replication.targets
    unknown = sorted(set(names or []) - set(configured))
    if unknown:
        raise ReplicaTargetInvalid(f"unknown replica target(s): {', '.join(unknown)}", targets=unknown)
    own = get_site(settings, site).store_url
    out: list[ReplicaTarget] = []
    for name in sorted(configured):
        cfg = configured[name]
        if (names and name not in names) or (cfg.sites and site not in cfg.sites):
            continue
        url = cfg.url if cfg.url is not None else get_site(settings, str(cfg.site)).store_url
        if _same_location(url, own):
            raise ReplicaTargetInvalid(
                f"replica target {name} is site {site}'s own store ({describe_store_url(own)})",
                target=name,
                site=site,
            )
        out.append(ReplicaTarget(name, url, cfg.removable))
    return out


def _same_location(a: str, b: str) -> bool:
    if "://" not in a and "://" not in b:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    return a.strip() == b.strip()


def open_target(target: ReplicaTarget) -> ObjectStore:
    """Open a target's store; a removable medium whose folder is absent (not mounted) is refused."""
    if target.removable:
        folder = Path(target.url.removeprefix("file://")).expanduser()
        if not folder.is_dir():
            raise ReplicaTargetUnavailable(
                f"removable medium for replica target {target.name} is not mounted at {folder}",
                target=target.name,
            )
    return open_store(target.url)
