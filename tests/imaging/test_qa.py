"""QA metrics and gates on synthetic scans with known defects."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from dangan.imaging import DecodedPage, DecodeLimits, QaThresholds, evaluate, iter_pages, measure
from dangan.imaging.qa import QaIssue
from tests.imaging.synth import add_noise, blur, dark_frame, encode, font, rotate, text_page


def gray_page(arr: np.ndarray, dpi: float | None = 300) -> DecodedPage:
    return DecodedPage(
        index=0,
        image=arr,
        dpi=(dpi, dpi) if dpi else None,
        color_mode="gray",
        bit_depth=8,
        source_mode="L",
        compression=None,
        width=arr.shape[1],
        height=arr.shape[0],
    )


def codes(issues: list[QaIssue]) -> set[str]:
    return {i.code for i in issues}


@pytest.fixture(scope="module")
def page300() -> Image.Image:
    return text_page(300)


@pytest.fixture(scope="module")
def page200() -> Image.Image:
    return text_page(200)


def test_clean_300dpi_page_passes_every_gate(page300: Image.Image) -> None:
    m = measure(gray_page(add_noise(np.asarray(page300))))
    assert evaluate(m, QaThresholds()) == []
    assert (m.dpi_source, m.effective_dpi, m.is_blank) == ("metadata", 300.0, False)
    assert 0.02 < m.blank_score < 0.2 and m.border_fraction == 0
    json.dumps(m.model_dump())  # plain values only: goes into a JSON column


@pytest.mark.parametrize("degrees", [-5.0, -3.3, -1.2, 0.0, 0.7, 2.5, 4.1, 5.0])
def test_skew_estimate_within_0_3_degrees(page300: Image.Image, degrees: float) -> None:
    m = measure(gray_page(add_noise(np.asarray(rotate(page300, degrees)))))
    assert m.skew_deg == pytest.approx(degrees, abs=0.3)
    assert m.skew_confidence > 1.5
    assert ("QA_SKEW" in codes(evaluate(m))) == (abs(degrees) > 3.0)


@pytest.mark.parametrize("degrees", [-4.0, 1.5])
def test_skew_on_text_only_200dpi_page(degrees: float) -> None:
    arr = add_noise(np.asarray(rotate(text_page(200, table=False), degrees)))
    m = measure(gray_page(arr, 200))
    assert m.skew_deg == pytest.approx(degrees, abs=0.3)  # positive = counter-clockwise


def test_blank_page_flagged_not_noisy(page300: Image.Image) -> None:
    blank = add_noise(np.full((page300.height, page300.width), 255, np.uint8), sigma=5)
    rng = np.random.default_rng(7)
    for _ in range(30):  # dust
        y, x = int(rng.integers(0, blank.shape[0])), int(rng.integers(0, blank.shape[1]))
        cv2.circle(blank, (x, y), 1, 40, -1)
    m = measure(gray_page(blank))
    assert m.is_blank and m.skew_deg == 0.0
    issues = evaluate(m)
    assert codes(issues) == {"QA_BLANK_PAGE"}
    assert issues[0].severity == "info"


def test_single_line_page_is_not_blank(page300: Image.Image) -> None:
    one = Image.new("L", page300.size, 255)
    ImageDraw.Draw(one).text((150, 150), "社会保险 2019", font=font(44), fill=0)
    m = measure(gray_page(add_noise(np.asarray(one))))
    assert not m.is_blank and "QA_BLANK_PAGE" not in codes(evaluate(m))


@pytest.mark.parametrize("dpi", [200, 300])
def test_blur_separates_sharp_from_blurred(dpi: int, page200: Image.Image, page300: Image.Image) -> None:
    base = np.asarray(page200 if dpi == 200 else page300)
    sharp = measure(gray_page(add_noise(base), dpi))
    assert "QA_BLURRY" not in codes(evaluate(sharp))
    for sigma in (3.0, 4.5):
        blurred = measure(gray_page(add_noise(blur(base, sigma)), dpi))
        assert "QA_BLURRY" in codes(evaluate(blurred)), (sigma, blurred.blur)
        assert blurred.blur < sharp.blur / 4


def test_dark_border_detected(page300: Image.Image) -> None:
    m = measure(gray_page(add_noise(dark_frame(np.asarray(page300), frac=0.04))))
    assert 0.08 < m.border_fraction < 0.2  # 1 - (1/1.08)^2 of the image is bed
    assert "QA_DARK_BORDER" in codes(evaluate(m))
    thin = measure(gray_page(add_noise(dark_frame(np.asarray(page300), frac=0.005))))
    assert "QA_DARK_BORDER" not in codes(evaluate(thin))


@pytest.mark.parametrize(
    ("dpi", "code", "severity"),
    [(150, "QA_LOW_DPI", "error"), (250, "QA_DPI_BELOW_OCR", "warning"), (None, "QA_DPI_UNKNOWN", "warning")],
)
def test_dpi_gates(page300: Image.Image, dpi: float | None, code: str, severity: str) -> None:
    issues = evaluate(measure(gray_page(np.asarray(page300), dpi)))
    found = [i for i in issues if i.code == code]
    assert found and found[0].severity == severity
    other = {"QA_LOW_DPI": "QA_DPI_BELOW_OCR", "QA_DPI_BELOW_OCR": "QA_LOW_DPI"}.get(code)
    assert other is None or other not in codes(issues)
    if dpi is None:  # an estimate never makes an error on its own
        assert all(i.severity != "error" for i in issues)


def test_default_72dpi_metadata_is_implausible_not_low() -> None:
    a4 = np.full((3508, 2480), 255, np.uint8)  # an A4 scanned at 300 dpi, header says 72
    a4[1000:1040, 300:2000] = 0
    m = measure(gray_page(a4, 72))
    assert m.dpi_plausible is False and m.effective_dpi == 300.0 and m.paper_size is not None
    found = codes(evaluate(m))
    assert "QA_DPI_IMPLAUSIBLE" in found and "QA_LOW_DPI" not in found


def test_pdf_page_uses_embedded_scan_resolution(page200: Image.Image) -> None:
    data = encode(page200.resize((page200.width // 2, page200.height // 2)), "PDF", dpi=100)
    page = next(iter_pages(data, limits=DecodeLimits(pdf_render_dpi=150)))
    m = measure(page)
    assert (m.dpi_x, m.dpi_source) == (100.0, "metadata")
    assert any(i.code == "QA_LOW_DPI" and i.severity == "error" for i in evaluate(m))


def test_contrast_brightness_and_illumination_gates(page300: Image.Image) -> None:
    base = np.asarray(page300).astype(np.float32)
    faded = (255 - (255 - base) * 0.2).astype(np.uint8)
    assert "QA_LOW_CONTRAST" in codes(evaluate(measure(gray_page(add_noise(faded)))))
    dark = (add_noise(np.asarray(page300)) * 0.3).astype(np.uint8)
    assert "QA_TOO_DARK" in codes(evaluate(measure(gray_page(dark))))
    ramp = np.linspace(1.0, 0.65, base.shape[0])[:, None]
    uneven = (base * ramp).astype(np.uint8)
    m = measure(gray_page(uneven))
    assert "QA_UNEVEN_LIGHT" in codes(evaluate(m))
    assert "QA_UNEVEN_LIGHT" not in codes(evaluate(m, QaThresholds(max_uneven_illumination=0.5)))


def test_color_page_is_measured_in_gray(page300: Image.Image) -> None:
    bgr = cv2.cvtColor(add_noise(np.asarray(page300)), cv2.COLOR_GRAY2BGR)
    bgr[:, :, 0] = np.clip(bgr[:, :, 0].astype(int) - 30, 0, 255)  # yellowed paper
    page = DecodedPage(0, bgr, (300.0, 300.0), "color", 24, "RGB", "jpeg", bgr.shape[1], bgr.shape[0])
    m = measure(page)
    assert m.color_mode == "color" and not m.is_blank
    assert evaluate(m) == []
