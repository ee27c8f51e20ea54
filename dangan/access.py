"""Local access policy: who may reveal personal data or change the site registry (until accounts exist).

The acting operator is ``Settings.actor`` (``--actor``, ``DANGAN_ACTOR``, ``actor`` in dangan.toml, else the
login name); permissions come from the ``[access]`` section of the settings::

    [access]
    granted_by = "王主任 (档案室负责人)"
    grants = { "li.ming" = ["pii.reveal"], "admin" = ["pii.reveal", "sites.admin"] }

No one holds a permission unless granted. Every use of a permission and every refusal is appended to the audit
trail by the caller, with the actor (see :func:`audit`).
"""

from __future__ import annotations

import re
import unicodedata

from dangan.catalog.audit import record_now
from dangan.config import Settings
from dangan.errors import PermissionDenied, RevealReasonRequired

PII_REVEAL = "pii.reveal"
SITES_ADMIN = "sites.admin"
PERMISSIONS = (PII_REVEAL, SITES_ADMIN)

# A run of 4+ digits (or an ID check character after digits) can pin down part of a resident ID or a phone
# number from hit counts alone: the searcher extends a known prefix one digit at a time.
_DIGITS = re.compile(r"\d{4,}|\d{2,}[Xx]")  # any script's digits: the catalog text may hold full-width ones


def has(settings: Settings, permission: str, actor: str | None = None) -> bool:
    """True when ``actor`` (default: the settings' actor) is granted ``permission`` (or ``*``)."""
    granted = settings.access.grants.get(actor or settings.actor, [])
    return permission in granted or "*" in granted


def require(settings: Settings, permission: str, action: str, actor: str | None = None) -> str:
    """Return the acting operator when granted ``permission``, else raise :class:`PermissionDenied`."""
    who = actor or settings.actor
    if has(settings, permission, who):
        return who
    raise PermissionDenied(
        f"{who!r} may not {action}: the permission {permission!r} is needed",
        hint=(
            f"Ask {settings.access.granted_by} to grant it: add {permission!r} to [access] grants for {who!r} in "
            f"dangan.toml, then run the command again as that operator (--actor). "
            f"请联系{settings.access.granted_by}在 dangan.toml 的 [access] grants 中为 {who} 授予 {permission} 权限。"
        ),
        actor=who,
        permission=permission,
        action=action,
    )


def query_can_match_id(query: str) -> bool:
    """True when a search ``query`` can match identity or phone digits (4+ digits in a row, or ``..dX``).

    Checked on the text as searched (normalized, whitespace removed), so ``3301 06`` or full-width digits count.
    """
    from dangan.ocr.engines.normalize import normalize_text

    flat = "".join(normalize_text(query).split())
    return any(_DIGITS.search(text) for text in (flat, unicodedata.normalize("NFKC", flat)))


#: Append one audit event in its own transaction (reveals and refusals are recorded even if what follows fails).
audit = record_now


def guard_search(settings: Settings, catalog_url: str, site: str, query: str) -> None:
    """Allow a full-text search, or raise :class:`PermissionDenied`: a query that can match identity or phone
    digits needs ``pii.reveal`` (hit counts alone recovered a whole resident ID, one digit at a time). Both the
    permitted search and the refusal are audited, with the query masked."""
    from dangan.pii import mask_all

    if not query_can_match_id(query):
        return
    shown = mask_all(query)  # the query itself is a guess at someone's number
    try:
        who = require(settings, PII_REVEAL, "search for identity or phone digits")
    except PermissionDenied as exc:
        audit(
            catalog_url,
            actor=settings.actor,
            action="search.identity",
            entity_type="site",
            entity_id=site,
            site_code=site,
            outcome="refused",
            details={"query": shown, "code": exc.code},
        )
        raise
    audit(
        catalog_url,
        actor=who,
        action="search.identity",
        entity_type="site",
        entity_id=site,
        site_code=site,
        details={"query": shown},
    )


def authorise_reveal(settings: Settings, catalog_url: str, site: str, what: str, reason: str | None) -> str:
    """Allow showing personal data in clear, or raise: needs a reason and ``pii.reveal``. Appends a ``pii.reveal``
    event (outcome ``started``; ``refused`` with the code when refused) and returns the actor; the caller appends
    the outcome with the number of records shown (:func:`audit`)."""
    why = (reason or "").strip()
    try:
        if len(why) < 4:
            raise RevealReasonRequired(
                f"showing {what} in clear needs a reason (--reason)",
                hint="Say why, e.g. --reason '转移接续 case 2024-118, requested by the receiving county' "
                "(请用 --reason 说明查看完整个人信息的原因).",
                action=what,
            )
        who = require(settings, PII_REVEAL, f"show {what} in clear")
    except (PermissionDenied, RevealReasonRequired) as exc:
        audit(
            catalog_url,
            actor=settings.actor,
            action="pii.reveal",
            entity_type="site",
            entity_id=site,
            site_code=site,
            outcome="refused",
            details={"what": what, "reason": why, "code": exc.code},
        )
        raise
    audit(
        catalog_url,
        actor=who,
        action="pii.reveal",
        entity_type="site",
        entity_id=site,
        site_code=site,
        outcome="started",
        details={"what": what, "reason": why},
    )
    return who
