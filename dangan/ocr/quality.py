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

import numpy as np

from dangan.extract.model import DocumentExtraction
from dangan.ocr.engines.base import OcrLine, PageResult
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


# --- Honest quality of one page's reading, with codes that send the page to review ------------------------------
#
# Every page result carries these measures (``dangan ocr --json``, the stored OCR object, the catalog) and the codes
# below: a page that reads as garbage says so instead of passing as text. Thresholds were calibrated on the sample
# forms (``dangan samples``) turned 0/90/180/270 with page orientation on and off (tests/ocr/test_page_quality.py):
# upright pages and pages the engine turned upright get no code; pages read sideways or upside down get one.
OCR_LOW_CONFIDENCE = "OCR_LOW_CONFIDENCE"  # the lines read are weak (mean, or a large weak tail)
OCR_NO_TEXT = "OCR_NO_TEXT"  # the page was read and holds no text (blank, or nothing the engine could see)
OCR_ORIENTATION_UNCERTAIN = "OCR_ORIENTATION_UNCERTAIN"  # the engine could not tell which way up the page is
OCR_SUSPECT = "OCR_SUSPECT"  # the detector sees text the recognizer turns into nothing or fragments
PAGE_CODES = (OCR_LOW_CONFIDENCE, OCR_NO_TEXT, OCR_ORIENTATION_UNCERTAIN, OCR_SUSPECT)

LOW_MEAN = 0.85  # mean line confidence below this: OCR_LOW_CONFIDENCE
LOW_SHARE = 0.25  # or more than this share of lines below LOW_LINE
ORIENTATION_SURE = 0.75  # orientation confidence below this: OCR_ORIENTATION_UNCERTAIN
SUSPECT_MIN_BOXES = 8  # OCR_SUSPECT needs at least this many detected boxes (a short note is not suspect) ...
SUSPECT_KEPT = 0.5  # ... and fewer than this share of them read as lines,
SUSPECT_SHORT = 0.5  # or more than this share of the lines read are fragments of ≤ 2 characters

_MESSAGES = {
    OCR_LOW_CONFIDENCE: "OCR confidence is low on this page (mean {mean:.2f}, {low:.0%} of lines weak): check the text",
    OCR_NO_TEXT: "no text was recognized on this page (blank, or unreadable)",
    OCR_ORIENTATION_UNCERTAIN: "the page's orientation is uncertain (confidence {orient:.2f}): it may be read turned",
    OCR_SUSPECT: "the detector found {boxes} text boxes but only {lines} read as lines ({short:.0%} fragments): "
    "the text is probably misread (a page turned sideways or upside down, or a damaged scan)",
}


@dataclass(frozen=True)
class PageQuality:
    """Measures of one page's reading and the codes they raise (see the thresholds above)."""

    lines: int
    chars: int
    mean_confidence: float
    p10_confidence: float
    low_share: float
    short_share: float
    detected_lines: int | None
    coverage: float  # share of the page's area inside recognized line boxes
    orientation: int
    orientation_confidence: float | None
    codes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (``codes`` a list)."""
        return {**asdict(self), "codes": list(self.codes)}

    def message(self, code: str) -> str:
        """Operator text for ``code`` on this page (numbers only: never page text)."""
        return _MESSAGES[code].format(
            mean=self.mean_confidence,
            low=self.low_share,
            orient=self.orientation_confidence or 0.0,
            boxes=self.detected_lines or 0,
            lines=self.lines,
            short=self.short_share,
        )


def _area(box: Sequence[Sequence[float]]) -> float:
    """Area of a polygon (shoelace)."""
    n = len(box)
    return abs(sum(box[i][0] * box[(i + 1) % n][1] - box[(i + 1) % n][0] * box[i][1] for i in range(n))) / 2


def _sideways(result: PageResult) -> bool:
    from dangan.ocr.orientation import tall_share

    share = tall_share([(np.asarray(line.box, dtype=np.float32), line.confidence) for line in result.lines])
    return share is not None and share > 0.5


def page_quality(result: PageResult) -> PageQuality | None:
    """The page's measures and codes; None for a failed page (its error code says what went wrong)."""
    if result.error is not None:
        return None
    reading = measure(result.lines, engine=result.engine, model=result.model)
    texts = [line.text for line in result.lines if line.text.strip()]
    short = sum(len("".join(t.split())) <= 2 for t in texts) / len(texts) if texts else 0.0
    page_area = float(result.width * result.height)
    coverage = min(1.0, sum(_area(line.box) for line in result.lines) / page_area) if page_area > 0 else 0.0
    codes = []
    if reading.chars == 0:
        codes.append(OCR_NO_TEXT)
    else:
        if reading.mean_confidence < LOW_MEAN or reading.low_share > LOW_SHARE:
            codes.append(OCR_LOW_CONFIDENCE)
        if result.orientation_confidence is not None and result.orientation_confidence < ORIENTATION_SURE:
            codes.append(OCR_ORIENTATION_UNCERTAIN)
        elif result.orientation_confidence is None and _sideways(result):
            # not measured (handling off, or another engine) and the lines stand upright: the page lies on its side
            # and its lines were read in the wrong order even when each one reads well
            codes.append(OCR_ORIENTATION_UNCERTAIN)
    boxes = result.detected_lines
    few_read = boxes is not None and boxes >= SUSPECT_MIN_BOXES and reading.lines < SUSPECT_KEPT * boxes
    if few_read or (boxes is not None and boxes >= SUSPECT_MIN_BOXES and short > SUSPECT_SHORT):
        codes.append(OCR_SUSPECT)
    return PageQuality(
        lines=reading.lines,
        chars=reading.chars,
        mean_confidence=reading.mean_confidence,
        p10_confidence=reading.p10_confidence,
        low_share=reading.low_share if reading.lines else 0.0,
        short_share=round(short, 4),
        detected_lines=boxes,
        coverage=round(coverage, 4),
        orientation=result.orientation,
        orientation_confidence=result.orientation_confidence,
        codes=tuple(codes),
    )
