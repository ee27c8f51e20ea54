"""How good an OCR reading of one page is, from what is recorded, and whether a new reading should replace it.

The measures of a reading (:class:`ReadingQuality`) come from its recorded lines and from extraction run on it:

* **confidence** — the mean line confidence, the 10th-percentile line confidence (the weak tail: a reading can
  have a good mean and a run of garbage lines) and the share of lines below ``LOW_LINE`` (0.80);
* **coverage** — characters read (whitespace excluded), lines, and what extraction found *on this page* when the
  document is read with this reading in place of the page's current one: fields plus contribution rows;
* **flags** — fields and rows extraction flagged (``DATE_INVALID``, ``CONFLICT``…: the checks validation acts on).

The score (0–100) of two readings of the same page is computed *for the pair* (:func:`score_pair`)::

    score = 100 × (0.40 × confidence + 0.60 × coverage − 0.10 × flagged share)
    confidence = 0.5 × mean + 0.3 × p10 + 0.2 × (1 − low share)
    coverage   = 0.25 × chars/chars_best + 0.15 × lines/lines_best + 0.60 × found/found_best

Coverage is relative to the better of the two readings because nothing says how much a page really holds: the
reading that read more is the reference. When neither found anything of a measure, both get full marks for it.
Extraction weighs most: a reading that finds half the contribution rows loses about 18 points, more than any
confidence gain can make up (an engine that is sure of itself on half the page is not better). A failed reading
scores 0.

:func:`judge` then says what to do: the new reading becomes current only when its score beats the current one
by at least ``REPLACE_MARGIN`` points (noise between two similar engines must not flip a page back and forth);
the operator can force it (``--force``; audited).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from dangan.extract.model import DocumentExtraction
from dangan.ocr.engines.base import OcrLine
from dangan.pii import mask_field, scrub

LOW_LINE = 0.80  # a line read below this confidence is "low" (the review threshold's order of magnitude)
REPLACE_MARGIN = 2.0  # score points a new reading must gain to replace the current one

# Decisions (codes are stable: reports, artifacts and audit events carry them).
REPLACED = "REPROCESS_REPLACED"  # better by the margin: made current
FORCED = "REPROCESS_FORCED"  # not better, made current because the operator said so (--force)
KEPT = "REPROCESS_KEPT_CURRENT"  # not better by the margin: recorded as a non-current version
SAME = "REPROCESS_SAME_READING"  # the new reading says exactly what the current one says
FAILED = "REPROCESS_READ_FAILED"  # the new reading failed: the current one stays
NO_CURRENT = "REPROCESS_NO_CURRENT"  # the page had no good reading: the new one is made current


@dataclass(frozen=True)
class ReadingQuality:
    """The measures of one reading of a page (see the module docstring)."""

    engine: str
    model: str
    lines: int
    chars: int
    mean_confidence: float
    p10_confidence: float
    low_share: float
    fields: int = 0
    rows: int = 0
    flagged: int = 0
    form_type: str | None = None
    error: str | None = None
    # field name -> value found on this page (kept in memory to say what changes; never shown unmasked)
    values: Mapping[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def found(self) -> int:
        """Fields plus contribution rows extraction found on the page."""
        return self.fields + self.rows

    def to_json(self) -> dict[str, Any]:
        """The measures without the field values (for reports and artifacts)."""
        out = asdict(self)
        out.pop("values")
        return out


def _line(item: OcrLine | Mapping[str, Any]) -> tuple[str, float]:
    if isinstance(item, OcrLine):
        return item.text, float(item.confidence)
    return str(item.get("text", "")), float(item.get("confidence", 0.0))


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


def measure(
    lines: Sequence[OcrLine | Mapping[str, Any]],
    *,
    engine: str,
    model: str,
    extraction: DocumentExtraction | None = None,
    page_index: int = 0,
    error: str | None = None,
) -> ReadingQuality:
    """Measures of a reading: its lines (``OcrLine`` or their stored JSON) and, when the page belongs to a
    document, the extraction of that document read with these lines at ``page_index``."""
    if error is not None:
        return ReadingQuality(engine, model, 0, 0, 0.0, 0.0, 1.0, error=error)
    read = [_line(item) for item in lines]
    confs = [c for text, c in read if text.strip()]
    chars = sum(len("".join(text.split())) for text, _ in read)
    fields = rows = flagged = 0
    values: dict[str, str | None] = {}
    form = None
    if extraction is not None:
        form = extraction.form_type
        for name, f in extraction.fields.items():
            if f.page == page_index:
                fields += 1
                flagged += bool(f.flags)
                values[name] = f.value
        for i, row in enumerate(extraction.contributions):
            if row.page == page_index:
                rows += 1
                flagged += any(row.flags.values())
                values[f"contributions.{i}"] = "|".join(str(row.values.get(k) or "") for k in sorted(row.values))
    return ReadingQuality(
        engine=engine,
        model=model,
        lines=len(confs),
        chars=chars,
        mean_confidence=round(sum(confs) / len(confs), 4) if confs else 0.0,
        p10_confidence=round(_percentile(confs, 0.10), 4) if confs else 0.0,
        low_share=round(sum(c < LOW_LINE for c in confs) / len(confs), 4) if confs else 1.0,
        fields=fields,
        rows=rows,
        flagged=flagged,
        form_type=form,
        values=values,
    )


def _ratio(value: int, best: int) -> float:
    return 1.0 if best == 0 else value / best


def score_pair(a: ReadingQuality, b: ReadingQuality) -> tuple[float, float]:
    """Scores (0–100) of two readings of the same page, coverage measured against the better of the two."""
    best = {k: max(getattr(a, k), getattr(b, k)) for k in ("chars", "lines", "found")}

    def score(q: ReadingQuality) -> float:
        if q.error is not None or q.lines == 0:
            return 0.0
        confidence = 0.5 * q.mean_confidence + 0.3 * q.p10_confidence + 0.2 * (1 - q.low_share)
        coverage = (
            0.25 * _ratio(q.chars, best["chars"])
            + 0.15 * _ratio(q.lines, best["lines"])
            + 0.60 * _ratio(q.found, best["found"])
        )
        flagged = q.flagged / q.found if q.found else 0.0
        return round(max(0.0, 100 * (0.40 * confidence + 0.60 * coverage - 0.10 * flagged)), 1)

    return score(a), score(b)


@dataclass(frozen=True)
class Verdict:
    """What reprocessing does with a new reading of a page, and why (``changes`` are display lines, masked)."""

    code: str
    make_current: bool
    current_score: float | None
    new_score: float
    changes: list[str]

    @property
    def label(self) -> str:
        """The decision in words, for tables."""
        return {
            REPLACED: "would replace: better",
            FORCED: "would replace: forced",
            KEPT: "kept: worse"
            if self.current_score is not None and self.new_score < self.current_score
            else "kept: not better by the margin",
            SAME: "kept: same reading",
            FAILED: "kept: new reading failed",
            NO_CURRENT: "would replace: no current reading",
        }[self.code]


def judge(
    current: ReadingQuality | None,
    new: ReadingQuality,
    *,
    same_text: bool = False,
    force: bool = False,
    margin: float = REPLACE_MARGIN,
) -> Verdict:
    """Decide whether ``new`` becomes the page's current reading (see the module docstring for the rule).

    A failed new reading never replaces a reading, not even with ``force`` (a failure is no reading at all).
    """
    if current is None or current.error is not None:
        cur_score, new_score = (None, score_pair(new, new)[0])
        return Verdict(FAILED if new.error else NO_CURRENT, new.error is None, cur_score, new_score, changes(None, new))
    cur_score, new_score = score_pair(current, new)
    what = changes(current, new)
    if new.error is not None:
        return Verdict(FAILED, False, cur_score, 0.0, [f"new reading failed: {new.error.split(':', 1)[0]}"])
    if same_text:
        return Verdict(SAME, False, cur_score, new_score, [])
    if new_score >= cur_score + margin:
        return Verdict(REPLACED, True, cur_score, new_score, what)
    return Verdict(FORCED if force else KEPT, force, cur_score, new_score, what)


def changes(current: ReadingQuality | None, new: ReadingQuality, limit: int = 4) -> list[str]:
    """What the new reading changes, in words: counts that differ, then field values that differ (masked with
    :func:`dangan.pii.mask_field`: never more characters shown than hidden for personal fields)."""
    if current is None:
        return [f"contribution rows {new.rows}, fields {new.fields}, characters {new.chars}"]
    out = []
    for label, attr in (
        ("contribution rows", "rows"),
        ("fields", "fields"),
        ("flagged", "flagged"),
        ("characters", "chars"),
        ("lines", "lines"),
    ):
        before, after = getattr(current, attr), getattr(new, attr)
        if before != after:
            out.append(f"{label} {before} → {after}")
    if current.form_type != new.form_type:
        out.append(f"form {current.form_type} → {new.form_type}")
    if abs(current.mean_confidence - new.mean_confidence) >= 0.01:
        out.append(f"mean confidence {current.mean_confidence:.2f} → {new.mean_confidence:.2f}")
    differing = [
        n
        for n in sorted(set(current.values) | set(new.values))
        if not n.startswith("contributions.") and current.values.get(n) != new.values.get(n)
    ]
    for name in differing[:limit]:
        before, after = current.values.get(name), new.values.get(name)
        out.append(f"{name}: {shown(name, before)} → {shown(name, after)}")
    if len(differing) > limit:
        out.append(f"+{len(differing) - limit} more fields differ")
    return out


def shown(name: str, value: str | None) -> str:
    """``value`` of field ``name`` as the preview shows it: masked by :func:`dangan.pii.mask_field`, then, for a
    personal field, trailing characters masked too until no more characters are shown than hidden (an 18-digit ID
    keeps its 6-digit county prefix only); ID- and phone-like tokens in other fields are scrubbed."""
    if value is None:
        return "—"
    masked = mask_field(name, value) or ""
    if masked == value:
        return scrub(value)
    while 2 * sum(c != "*" for c in masked) > len(masked):  # mask the last visible run (an ID's tail) whole
        tail = masked.rstrip("*")
        run = len(tail) - len(tail.rstrip("".join(set(tail) - {"*"})))
        masked = tail[: len(tail) - run] + "*" * (len(masked) - len(tail) + run)
    return masked
