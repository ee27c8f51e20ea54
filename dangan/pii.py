"""Masking of personal data for logs, artifacts and error messages."""

from __future__ import annotations

import re

_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{5,8})(\d{3}[0-9Xx]|\d{4})(?![0-9A-Za-z])")


def mask_id(resident_id: str | None) -> str:
    """Mask a resident ID keeping the first 6 and last 4 characters: ``330106********123X``."""
    if not resident_id:
        return ""
    rid = resident_id.strip()
    if len(rid) <= 10:
        return "*" * len(rid)
    return rid[:6] + "*" * (len(rid) - 10) + rid[-4:]


def mask_name(name: str | None) -> str:
    """Mask a person's name keeping the surname: ``张*`` / ``欧阳**``."""
    if not name:
        return ""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    keep = 2 if len(name) >= 4 else 1
    return name[:keep] + "*" * (len(name) - keep)


def scrub(text: str) -> str:
    """Mask every 15- or 18-character resident-ID-like token found in free text."""
    return _ID_LIKE.sub(lambda m: mask_id(m.group(0)), text)
