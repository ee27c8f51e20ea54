"""Image QA gates for scanned archive pages (DA/T 31-2017 《纸质档案数字化规范》).

:func:`measure` (re-exported from :mod:`dangan.imaging.metrics`) turns a page into :class:`PageMetrics`;
:func:`evaluate` compares them with :class:`QaThresholds` and returns :class:`QaIssue` objects with stable codes.
Severities: ``error`` means the page should be rescanned (it fails the standard), ``warning`` means it passes but
OCR or review will suffer, ``info`` is for facts worth recording (blank pages are flagged, never dropped).
Blank pages are exempt from the sharpness, skew, contrast and over-exposure gates, which are meaningless there.

The resolution gates are archival (DA/T 31-2017 asks 200 dpi of text pages): a 150-dpi page fails the standard
for the archive, but OCR reads such pages as well as 300-dpi ones (bench/realistic.py), so the issue says so and
carries ``details["scope"] = "archival"``; OCR trust is judged from the OCR result itself. ``PAGE_HAS_SEAL``
(``info``) is evidence, not a defect: the page bears a red/blue seal, boxes in ``details["seals"]``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from dangan.imaging.metrics import DEFAULT_BLANK_INK_FRACTION, PageMetrics, measure

__all__ = ["PageMetrics", "QaIssue", "QaThresholds", "Severity", "evaluate", "measure"]

Severity = Literal["error", "warning", "info"]


class QaThresholds(BaseModel):
    """Gate thresholds; defaults follow DA/T 31-2017 and were calibrated on synthetic 200/300 dpi pages."""

    min_dpi: float = Field(default=200.0, description="DA/T 31-2017 minimum for text pages; below is an error.")
    ocr_min_dpi: float = Field(default=300.0, description="Recommended for OCR; between min_dpi and this: warning.")
    max_skew_deg: float = Field(default=3.0, description="|skew| above this is flagged (derivatives deskew anyway).")
    min_skew_confidence: float = Field(default=1.5, description="Skew estimates less confident than this are ignored.")
    blank_ink_fraction: float = Field(default=DEFAULT_BLANK_INK_FRACTION, description="blank_score below this: blank.")
    min_blur: float = Field(default=150.0, description="Sharpness (metrics.blur) below this is blurry.")
    max_border_fraction: float = Field(default=0.05, description="Share of the image that may be dark scanner bed.")
    min_contrast: float = Field(default=50.0, description="Ink vs paper gray-level difference (0-255).")
    min_brightness: float = Field(default=90.0, description="Mean paper gray below this: too dark.")
    max_brightness: float = Field(
        default=250.0, description="Mean paper gray above this on a non-blank page: washed out."
    )
    max_uneven_illumination: float = Field(default=0.2, description="Spread of the paper level across the page (0-1).")


class QaIssue(BaseModel):
    """One QA finding. ``code`` is stable (catalogs and automations key on it); ``message`` is for people."""

    code: str
    severity: Severity
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def _dpi_issues(m: PageMetrics, t: QaThresholds) -> list[QaIssue]:
    issues: list[QaIssue] = []
    dpi: float | None = min(m.dpi_x, m.dpi_y) if m.dpi_x and m.dpi_y else None
    firm = m.dpi_source in ("metadata", "render")  # an estimate never fails a page on its own
    if m.dpi_source in ("estimated", "none"):
        issues.append(
            QaIssue(
                code="QA_DPI_UNKNOWN",
                severity="warning",
                message=f"no dpi metadata; {m.dpi_message}",
                details={"estimated_dpi": m.effective_dpi, "paper_size": m.paper_size},
            )
        )
    elif m.dpi_plausible is False:
        issues.append(
            QaIssue(
                code="QA_DPI_IMPLAUSIBLE",
                severity="warning",
                message=m.dpi_message,
                details={"dpi": dpi, "effective_dpi": m.effective_dpi},
            )
        )
        dpi, firm = m.effective_dpi, False
    if dpi is None:
        return issues
    basis = {"dpi": dpi, "dpi_source": m.dpi_source if firm else "estimated", "standard": "DA/T 31-2017"}
    if dpi < t.min_dpi:
        issues.append(
            QaIssue(
                code="QA_LOW_DPI",
                severity="error" if firm else "warning",
                message=f"{dpi:g} dpi is below the DA/T 31 archival minimum of {t.min_dpi:g} dpi (rescan for the "
                "archive; the OCR text is judged by its own quality codes)",
                details={**basis, "min_dpi": t.min_dpi, "scope": "archival"},
            )
        )
    elif dpi < t.ocr_min_dpi:
        issues.append(
            QaIssue(
                code="QA_DPI_BELOW_OCR",
                severity="warning",
                message=f"{dpi:g} dpi meets the minimum but is below the {t.ocr_min_dpi:g} dpi recommended for OCR",
                details={**basis, "ocr_min_dpi": t.ocr_min_dpi, "scope": "archival"},
            )
        )
    return issues


def evaluate(metrics: PageMetrics, thresholds: QaThresholds | None = None) -> list[QaIssue]:
    """Apply the QA gates to one page's metrics; returns the issues found (empty list = clean page)."""
    t = thresholds or QaThresholds()
    m = metrics
    issues = _dpi_issues(m, t)
    blank = m.blank_score < t.blank_ink_fraction

    def add(code: str, severity: Severity, message: str, **details: Any) -> None:
        issues.append(QaIssue(code=code, severity=severity, message=message, details=details))

    if blank:
        add(
            "QA_BLANK_PAGE",
            "info",
            "page looks blank (kept, flagged for review)",
            blank_score=m.blank_score,
            threshold=t.blank_ink_fraction,
        )
    else:
        if m.blur < t.min_blur:
            add(
                "QA_BLURRY",
                "error",
                f"page is blurry (sharpness {m.blur:g} < {t.min_blur:g})",
                blur=m.blur,
                min_blur=t.min_blur,
            )
        if abs(m.skew_deg) > t.max_skew_deg and m.skew_confidence >= t.min_skew_confidence:
            add(
                "QA_SKEW",
                "warning",
                f"page is skewed by {m.skew_deg:+.1f}°",
                skew_deg=m.skew_deg,
                max_skew_deg=t.max_skew_deg,
            )
        if m.contrast < t.min_contrast:
            add(
                "QA_LOW_CONTRAST",
                "warning",
                f"ink contrast {m.contrast:g} < {t.min_contrast:g}",
                contrast=m.contrast,
                min_contrast=t.min_contrast,
            )
        if m.brightness > t.max_brightness:
            add(
                "QA_TOO_BRIGHT",
                "warning",
                f"page is washed out (mean {m.brightness:g})",
                brightness=m.brightness,
                max_brightness=t.max_brightness,
            )
    if m.border_fraction > t.max_border_fraction:
        add(
            "QA_DARK_BORDER",
            "warning",
            f"{m.border_fraction:.0%} of the image is dark scanner bed",
            border_fraction=m.border_fraction,
            max_border_fraction=t.max_border_fraction,
        )
    if m.brightness < t.min_brightness:
        add(
            "QA_TOO_DARK",
            "warning",
            f"page is too dark (mean {m.brightness:g})",
            brightness=m.brightness,
            min_brightness=t.min_brightness,
        )
    if m.seals:
        add(
            "PAGE_HAS_SEAL",
            "info",
            f"page bears {len(m.seals)} seal(s) (stamp ink suppressed in the OCR derivative)",
            seals=m.seals,
            count=len(m.seals),
        )
    if m.uneven_illumination > t.max_uneven_illumination:
        add(
            "QA_UNEVEN_LIGHT",
            "warning",
            f"uneven illumination ({m.uneven_illumination:.2f})",
            uneven_illumination=m.uneven_illumination,
            max_uneven_illumination=t.max_uneven_illumination,
        )
    return issues
