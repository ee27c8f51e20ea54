"""What extraction produces: fields with confidence and source box, contribution rows, per document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NotRequired, TypedDict, final

from dangan.catalog.fields import CONTRIBUTION_COLUMNS as CONTRIBUTION_COLUMNS

Box = list[list[float]]  # 4 points [x, y], clockwise from top-left, in the OCR input image's pixels


class FieldJson(TypedDict):
    """``ExtractedField.to_json``: one reading (``alternatives`` only on a field in conflict)."""

    value: str | None
    raw: str
    confidence: float
    box: Box | None
    page: int
    label: str
    flags: list[str]
    alternatives: NotRequired[list[FieldJson]]


class ContributionJson(TypedDict):
    """``ContributionRow.to_json``: the six columns (``CONTRIBUTION_COLUMNS``), the row's confidence, box, page
    and the flags of its cells."""

    period: str | None
    base: str | None
    employer: str | None
    personal: str | None
    total: str | None
    flag: str | None
    confidence: float
    box: Box | None
    page: int
    flags: dict[str, list[str]]


@final
class DocumentJson(TypedDict):
    """``DocumentExtraction.to_json`` (``dangan extract`` output per file, plus ``page_errors`` there)."""

    path: str | None
    form_type: str
    form_score: float
    fields: dict[str, FieldJson]
    contributions: list[ContributionJson]
    page_errors: NotRequired[list[str]]


@dataclass
class ExtractedField:
    """One field value as read: normalized ``value`` (None when absent), the ``raw`` OCR text, the OCR
    confidence of the text it came from, its box and page, and normalizer ``flags``.

    When the document prints the field again with a different value, the first reading stays ``value``, the
    flags gain ``CONFLICT`` and every other distinct reading is kept in ``alternatives`` (nothing is dropped:
    a person decides which one is right)."""

    name: str
    value: str | None
    raw: str
    confidence: float
    box: Box | None
    page: int
    label: str = ""
    flags: tuple[str, ...] = ()
    alternatives: list[ExtractedField] = field(default_factory=list)

    def to_json(self) -> FieldJson:
        """Plain-JSON form (``alternatives`` only when the field is in conflict)."""
        out: FieldJson = {
            "value": self.value,
            "raw": self.raw,
            "confidence": round(float(self.confidence), 4),
            "box": self.box,
            "page": self.page,
            "label": self.label,
            "flags": list(self.flags),
        }
        if self.alternatives:
            out["alternatives"] = [alt.to_json() for alt in self.alternatives]
            for alt_json in out["alternatives"]:
                alt_json.pop("alternatives", None)
        return out


@dataclass
class ContributionRow:
    """One row of a contribution table: normalized cells, their flags, the row's lowest confidence and box."""

    values: dict[str, str | None]
    confidence: float
    box: Box | None
    page: int
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> ContributionJson:
        """The six columns plus ``confidence``, ``box``, ``page`` and ``flags``."""
        cell = self.values.get
        return {
            "period": cell("period"),
            "base": cell("base"),
            "employer": cell("employer"),
            "personal": cell("personal"),
            "total": cell("total"),
            "flag": cell("flag"),
            "confidence": round(float(self.confidence), 4),
            "box": self.box,
            "page": self.page,
            "flags": {k: list(v) for k, v in self.flags.items() if v},
        }


@dataclass
class DocumentExtraction:
    """Everything read from one document."""

    form_type: str
    form_score: float
    fields: dict[str, ExtractedField]
    contributions: list[ContributionRow]
    pages: int

    def values(self) -> dict[str, str | None]:
        """Field name → normalized value."""
        return {name: f.value for name, f in self.fields.items()}

    def to_json(self, path: str | None = None) -> DocumentJson:
        """``{"path", "form_type", "fields": {name: {value, confidence, box, ...}}, "contributions"}``."""
        return {
            "path": path,
            "form_type": self.form_type,
            "form_score": round(self.form_score, 3),
            "fields": {name: f.to_json() for name, f in sorted(self.fields.items())},
            "contributions": [row.to_json() for row in self.contributions],
        }
