"""Imaging core: content-sniffed decoding, QA metrics and gates (DA/T 31-2017), OCR derivatives.

Pure functions on bytes and numpy arrays; no catalog, no storage. Typical use::

    limits = DecodeLimits()
    for page in iter_pages(data, limits=limits):
        metrics = measure(page)
        issues = evaluate(metrics, QaThresholds())
        derivative = make_ocr_derivative(page, metrics, DeriveParams())
"""

from __future__ import annotations

from dangan.imaging.decode import DecodedPage, DecodeLimits, ProbeResult, iter_pages, probe
from dangan.imaging.derive import TOOL, Derivative, DeriveParams, make_ocr_derivative, make_thumbnail
from dangan.imaging.paper import image_dpi_plausibility
from dangan.imaging.qa import PageMetrics, QaIssue, QaThresholds, evaluate, measure
from dangan.imaging.sniff import ACCEPTED, sniff_format

__all__ = [
    "ACCEPTED",
    "TOOL",
    "DecodeLimits",
    "DecodedPage",
    "Derivative",
    "DeriveParams",
    "PageMetrics",
    "ProbeResult",
    "QaIssue",
    "QaThresholds",
    "evaluate",
    "image_dpi_plausibility",
    "iter_pages",
    "make_ocr_derivative",
    "make_thumbnail",
    "measure",
    "probe",
    "sniff_format",
]
