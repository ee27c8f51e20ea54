"""Masking of personal data for logs, artifacts and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]{6,18}[Xx]?(?![0-9A-Za-z])")
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{5,8})(\d{3}[0-9Xx]|\d{4})(?![0-9A-Za-z])")
# mainland mobile numbers (OCR snippets and file names carry them beside names and IDs)
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])")


def _mask_ends(value: str, head: int, tail: int) -> str:
    """``value`` with its middle masked, one ``*`` per hidden character, showing at most ``head`` leading and
    ``tail`` trailing characters and never more characters than it hides (tail shrinks first, then head)."""
    n = len(value)
    while tail and 2 * (head + tail) > n:
        tail -= 1
    while head and 2 * head > n:
        head -= 1
    return value[:head] + "*" * (n - head - tail) + (value[n - tail :] if tail else "")


def mask_id(resident_id: str | None) -> str:
    """Mask a resident ID: 18 characters keep the first 6 and last 4 (``330106********123X``, the project's
    display convention); any other length (a 15-digit ID, a misread field) keeps at most as much as it hides."""
    if not resident_id:
        return ""
    rid = resident_id.strip()
    if len(rid) == 18:
        return rid[:6] + "*" * 8 + rid[-4:]
    return _mask_ends(rid, 6, 0)


def mask_name(name: str | None) -> str:
    """Mask a person's name keeping at most its first character, one ``*`` per hidden character: ``钟*``,
    ``欧***``; a one-character value is fully masked. (Keeping two characters of a long value leaked whole names
    when the field held a misread line, e.g. ``钟燕*****************``.)"""
    if not name:
        return ""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """Mask a phone number keeping the first 3 and last 2 characters: ``138******78`` (never more than hidden)."""
    if not phone:
        return ""
    return _mask_ends(phone.strip(), 3, 2)


def mask_address(address: str | None) -> str:
    """Mask an address keeping at most its first 6 characters (province/city) and at most half of it."""
    if not address:
        return ""
    return _mask_ends(address.strip(), 6, 0)


def mask_all(value: str | None) -> str:
    """Mask every character except separators of dates and codes: ``1982-12-07`` → ``****-**-**``, ``汉`` → ``*``."""
    if not value:
        return ""
    return re.sub(r"[^\s\-/.:年月日]", "*", value.strip())


def mask_code(value: str | None) -> str:
    """Mask a personal number (person code, 个人编号) keeping at most 2 leading and 2 trailing characters."""
    if not value:
        return ""
    return _mask_ends(value.strip(), 2, 2)


#: Extracted fields that describe a person, and how each is masked in exports and displays.
PERSONAL_FIELDS = {
    "name": mask_name,
    "id_number": mask_id,
    "phone": mask_phone,
    "address": mask_address,
    "birth_date": mask_all,
    "ethnicity": mask_all,
    "sex": mask_all,
    "person_code": mask_code,
}


def mask_field(name: str, value: str | None) -> str | None:
    """``value`` of extracted field ``name``, masked when the field is personal (``None`` stays ``None``)."""
    if value is None:
        return None
    masker = PERSONAL_FIELDS.get(name)
    return masker(value) if masker else value


def scrub(text: str) -> str:
    """Mask every 15- to 18-character resident-ID-like token and every mobile number found in free text."""
    return _MOBILE.sub(lambda m: mask_phone(m.group(0)), _ID_LIKE.sub(lambda m: mask_id(m.group(0)), text))


class Masker:
    """The one masking function for operator-facing text (logs, artifacts, CLI output, error messages).

    ``scrub`` finds ID-like tokens only; file names and folders also carry names (``钟燕_登记表.png``) and IDs
    glued to other characters (``ID330106198212070023.tif``). A masker also masks the personal data it was
    given: the resident IDs and names a batch manifest or the catalog associates with the files shown, and
    ``replacements`` (text already masked elsewhere, e.g. a report's ``display_names``). Calling it masks known
    values first (longest first, one pass), then pieces of known IDs (a snippet cut mid-ID), then every
    remaining ID-like token.
    """

    def __init__(
        self,
        ids: Iterable[str | None] = (),
        names: Iterable[str | None] = (),
        replacements: Mapping[str, str] | None = None,
    ) -> None:
        # shorter strings are no resident ID and would mask ordinary numbers; a one-character "name" would
        # mask that character everywhere
        self._ids = frozenset(r.strip().upper() for r in ids if r and len(r.strip()) >= 8)
        self._names = frozenset(n.strip() for n in names if n and len(n.strip()) >= 2)
        self._replacements = {raw: masked for raw, masked in (replacements or {}).items() if raw and raw != masked}
        terms = dict(self._replacements)
        terms.update({rid: mask_id(rid) for rid in self._ids})
        terms.update({name: mask_name(name) for name in self._names})
        self._lookup = {k.casefold(): v for k, v in terms.items()}
        ordered = sorted(terms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None

    def __call__(self, text: object) -> str:
        """``text`` (``None`` → ``""``) with known personal data and ID-like tokens masked."""
        if text is None:
            return ""
        out = str(text)
        masked: list[str] = []
        if self._pattern is not None:
            # known values become placeholders first, so the passes below cannot mask their masks again
            # (a masked ID's visible region code would otherwise read as a fragment of that ID)
            def hold(m: re.Match[str]) -> str:
                masked.append(self._lookup[m.group(0).casefold()])
                return f"\ue000{chr(0xE100 + len(masked) - 1)}\ue001"

            out = self._pattern.sub(hold, out)
        if self._ids:
            out = _DIGIT_RUN.sub(self._fragment, out)
        out = scrub(out)
        for i, value in enumerate(masked):
            out = out.replace(f"\ue000{chr(0xE100 + i)}\ue001", value)
        return out

    def _fragment(self, match: re.Match[str]) -> str:
        # A known ID cut short (an OCR snippet's edge): mask_id's "last four" would show birth-date digits, so
        # only a leading piece keeps its region code.
        run = match.group(0)
        for piece in (run.upper(), run[:-1]) if run[-1] in "Xx" else (run,):
            if any(piece in rid for rid in self._ids):
                # never more than it hides: a short leading piece shows at most half of itself
                keep = min(6, len(piece) // 2) if any(rid.startswith(piece) for rid in self._ids) else 0
                return piece[:keep] + "*" * (len(piece) - keep) + run[len(piece) :]
        return run

    @classmethod
    def combine(cls, maskers: Iterable[Masker]) -> Masker:
        """One masker that masks everything any of ``maskers`` masks."""
        ids: set[str] = set()
        names: set[str] = set()
        replacements: dict[str, str] = {}
        for m in maskers:
            ids |= m._ids
            names |= m._names
            replacements.update(m._replacements)
        return cls(ids, names, replacements)

    def with_values(self, ids: Iterable[str | None] = (), names: Iterable[str | None] = ()) -> Masker:
        """A masker that also masks these IDs and names."""
        return Masker.combine([self, Masker(ids, names)])


#: Masks ID-like tokens only (no personal values known).
MASK_IDS = Masker()
