"""Errors of repair by content (fixity) with stable codes, hints for county archive staff (中文 where useful)."""

from __future__ import annotations

from dangan.errors import ConfigError, PermanentError


class NoVerifiedCopy(PermanentError):
    """No store the configuration names holds a copy that hashes to the catalogued digests; nothing was written.

    ``details``: ``key`` (the damaged object), ``sha256``, ``reason`` (``REPLICA_MISSING``: no candidate at
    all; ``REPLICA_DAMAGED``: candidates found, none verified), ``tried`` (how many candidates were read),
    ``searched`` (store names), ``listing_truncated`` (a metadata listing stopped at its bound).
    """

    code = "FIXITY_NO_VERIFIED_COPY"
    default_hint = (
        "No good copy exists in any site or replica store; restore the object from offline media (removable "
        "export) or rescan the paper original. 所有站点和副本中均无完好副本：请从离线介质恢复或重新扫描原件。"
    )


class RepairSourceInvalid(ConfigError):
    """A repair source was named wrongly (e.g. ``--repair-from`` the damaged site itself)."""

    code = "FIXITY_REPAIR_SOURCE_INVALID"
    default_hint = "Name another registered site with --repair-from, or use --repair to search every store."
