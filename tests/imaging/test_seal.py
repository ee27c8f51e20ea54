"""Seals: found with their box (PAGE_HAS_SEAL, info), stamp ink whitened in the OCR derivative, print kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dangan.imaging import DecodedPage, DeriveParams, evaluate, make_ocr_derivative, measure
from dangan.imaging.analysis import find_seals, stamp_ink_mask

DPI = 200.0


def _page(colour: tuple[int, int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """BGR A5-ish page: black bars of 'text', a stamp ring with a star multiplied over the middle bar."""
    img = np.full((1400, 1000, 3), 250, np.uint8)
    for y in (300, 500, 700, 900):
        img[y : y + 24, 150:850] = 25
    layer = np.full_like(img, 255)
    centre, r = (500, 520), 160
    cv2.circle(layer, centre, r, colour, 10)
    cv2.circle(layer, centre, 40, colour, -1)
    img = (img.astype(np.float32) * layer / 255.0).astype(np.uint8)  # ink multiplies like real stamp ink
    return img, (centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r)


def _decoded(img: np.ndarray) -> DecodedPage:
    return DecodedPage(0, img, (DPI, DPI), "color", 24, "RGB", None, img.shape[1], img.shape[0])


@pytest.mark.parametrize(("bgr", "name"), [((45, 40, 205), "red"), ((170, 60, 30), "blue")])
def test_seal_found_with_box_and_recorded_as_info(bgr: tuple[int, int, int], name: str) -> None:
    img, (x0, y0, x1, y1) = _page(bgr)
    [seal] = find_seals(img, DPI)
    bx0, by0, bx1, by1 = seal["box"]  # type: ignore[misc]
    assert seal["colour"] == name
    assert abs(bx0 - x0) < 20 and abs(by0 - y0) < 20 and abs(bx1 - x1) < 20 and abs(by1 - y1) < 20
    metrics = measure(_decoded(img))
    [issue] = [i for i in evaluate(metrics) if i.code == "PAGE_HAS_SEAL"]
    assert issue.severity == "info" and issue.details["count"] == 1 and issue.details["seals"][0]["box"] == seal["box"]


def test_no_seal_on_plain_or_gray_pages() -> None:
    img, _ = _page((255, 255, 255))  # a white "stamp": nothing coloured
    assert find_seals(img, DPI) == []
    assert find_seals(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), DPI) == []
    assert "PAGE_HAS_SEAL" not in {i.code for i in evaluate(measure(_decoded(img)))}


def test_pen_underline_is_not_a_seal() -> None:
    img = np.full((1400, 1000, 3), 250, np.uint8)
    cv2.line(img, (150, 400), (850, 410), (140, 50, 40), 4)  # blue ballpoint underline: elongated
    assert find_seals(img, DPI) == []


def test_derivative_whitens_stamp_ink_and_keeps_print_under_it() -> None:
    img, _ = _page((45, 40, 205))
    page = _decoded(img)
    metrics = measure(page)
    on = make_ocr_derivative(page, metrics, DeriveParams())
    off = make_ocr_derivative(page, metrics, DeriveParams(suppress_seals=False))
    assert "suppress_stamp_ink" in on.params["steps"] and on.params["measured"]["stamp_px"] > 1000
    ring = stamp_ink_mask(img)
    ring &= ~(img.max(axis=2) < 90)  # stamp ink over paper (not over the black bars)
    assert on.image[ring].mean() > 230 > off.image[ring].mean()
    bar = np.zeros(img.shape[:2], bool)
    bar[504:520, 400:600] = True  # the bar under the star and the ring stays black
    assert on.image[bar].mean() < 80
