"""The validation stage's report over a batch: documents validated, flagged for review, and why.

Built once from the chunks' validation summaries (:func:`dangan.quality.store.validate_documents`); rendered by
:mod:`dangan.reports` for the CLI and the Prefect artifacts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field


class ValidationReport(BaseModel):
    """Totals of one validation pass; ``reasons`` counts documents by failure code.

    ``flagged_ids`` (documents that need review) drive the review runs; they stay out of the published report
    (``model_dump``), which carries counts only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    documents: int = 0
    validated: int = 0
    needs_review: int = 0
    reasons: dict[str, int] = Field(default_factory=dict)
    data_docs: str | None = None
    flagged_ids: list[int] = Field(default_factory=list, exclude=True)

    @classmethod
    def from_chunks(cls, documents: int, chunks: Iterable[Mapping[str, object]]) -> ValidationReport:
        """Sum the chunks' summaries (``validated`` / ``needs_review`` id lists, ``reasons`` id → codes)."""
        validated = flagged = 0
        flagged_ids: list[int] = []
        reasons: Counter[str] = Counter()
        data_docs: str | None = None
        for chunk in chunks:
            ok, review = _ids(chunk.get("validated")), _ids(chunk.get("needs_review"))
            validated += len(ok)
            flagged += len(review)
            flagged_ids += review
            data_docs = str(chunk.get("data_docs") or "") or data_docs
            by_doc = chunk.get("reasons")
            for codes in by_doc.values() if isinstance(by_doc, Mapping) else ():
                reasons.update(str(code) for code in codes)
        return cls(
            documents=documents,
            validated=validated,
            needs_review=flagged,
            reasons=dict(reasons),
            data_docs=data_docs,
            flagged_ids=flagged_ids,
        )

    def top_reasons(self, n: int = 4) -> list[tuple[str, int]]:
        """The ``n`` most frequent failure codes, most frequent first."""
        return sorted(self.reasons.items(), key=lambda kv: -kv[1])[:n]


def _ids(value: object) -> list[int]:
    return [int(i) for i in value] if isinstance(value, Sequence) and not isinstance(value, str) else []
