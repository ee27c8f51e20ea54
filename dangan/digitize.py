"""The report of the ``digitize`` pipeline (ingest → OCR → extraction + validation → 四性检测): one model that
holds each stage's own report, so no stage reads another's by key. Rendered by :mod:`dangan.reports`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from dangan.ingest.report import IngestReport
from dangan.ocr.summary import OcrReport
from dangan.quality.report import ValidationReport


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReviewRuns(_Part):
    """Review flow runs started for the flagged documents (``reason``: why none were, when none were)."""

    started: int = 0
    reason: str | None = None


class FourPropertiesSummary(_Part):
    """The 四性检测 verdict of the batch; the full report is kept in the store at ``object_key``."""

    passed: bool
    object_key: str | None = None
    problems: int = 0


class DigitizeReport(_Part):
    """Every stage's report of one batch; field names are the keys of ``dangan digitize --json``."""

    site: str
    ingest: IngestReport
    ocr: OcrReport
    validation: ValidationReport
    reviews: ReviewRuns
    four_properties: FourPropertiesSummary

    def masked(self) -> DigitizeReport:
        """A copy whose ingest part has its file names masked (for JSON output)."""
        return self.model_copy(update={"ingest": self.ingest.masked()})

    def public_dict(self) -> dict[str, object]:
        """JSON-ready values, file names masked, keys as always (``display_names`` left out)."""
        return self.masked().model_dump(mode="json", exclude={"ingest": {"display_names"}})
