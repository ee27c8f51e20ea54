"""Decoding of every accepted format: page counts, dpi, modes, pixel conversion."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFile

from dangan.imaging import DecodeLimits, iter_pages, probe
from tests.imaging.synth import encode, text_page

LIMITS = DecodeLimits()


@pytest.fixture(scope="module")
def pages() -> list[Image.Image]:
    """Three small, different gray pages (so page order is checkable)."""
    base = text_page(200, (50, 70), table=False)
    return [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]


def test_multipage_lzw_tiff_is_lossless_and_ordered(pages: list[Image.Image]) -> None:
    data = encode(pages, "TIFF", dpi=200, compression="tiff_lzw")
    info = probe(data, limits=LIMITS)
    assert (info.format, info.page_count) == ("tiff", 3)
    assert all(m["compression"] == "tiff_lzw" and m["dpi"] == (200.0, 200.0) for m in info.pages_meta)
    decoded = list(iter_pages(data, limits=LIMITS))
    assert [p.index for p in decoded] == [0, 1, 2]
    for src, page in zip(pages, decoded, strict=True):
        assert page.color_mode == "gray" and page.bit_depth == 8 and page.source_mode == "L"
        assert page.image.dtype == np.uint8 and page.image.shape == (src.height, src.width)
        assert np.array_equal(page.image, np.asarray(src))
        assert (page.width, page.height) == src.size


def test_group4_tiff_is_bilevel_0_255(pages: list[Image.Image]) -> None:
    bilevel = pages[0].convert("1")
    data = encode([bilevel, bilevel], "TIFF", dpi=300, compression="group4")
    decoded = list(iter_pages(data, limits=LIMITS))
    assert len(decoded) == 2
    page = decoded[0]
    assert (page.color_mode, page.bit_depth, page.compression) == ("bilevel", 1, "group4")
    assert set(np.unique(page.image)) == {0, 255}
    assert np.array_equal(page.image, np.asarray(bilevel.convert("L")))
    assert page.dpi == (300.0, 300.0)


def test_16bit_tiff_is_scaled_to_8bit() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    data = encode(Image.fromarray(ramp), "TIFF", dpi=300)
    page = next(iter_pages(data, limits=LIMITS))
    assert page.source_mode.startswith("I;16") and page.bit_depth == 16 and page.color_mode == "gray"
    assert page.image.dtype == np.uint8
    assert np.abs(page.image.astype(int) - np.round(ramp / 257)).max() <= 1
    assert page.image.min() == 0 and page.image.max() == 255


def test_jpeg_color_is_bgr_with_dpi() -> None:
    rgb = Image.new("RGB", (64, 48), (255, 255, 255))
    rgb.paste((220, 20, 20), (0, 0, 32, 48))  # red left half
    page = next(iter_pages(encode(rgb, "JPEG", dpi=240, quality=95), limits=LIMITS))
    assert page.image.shape == (48, 64, 3) and page.color_mode == "color" and page.bit_depth == 24
    b, g, r = page.image[24, 8]
    assert r > 200 and b < 60 and g < 60  # OpenCV channel order
    assert page.dpi == (240.0, 240.0) and page.compression == "jpeg"


def test_cmyk_jpeg_and_palette_png_become_bgr() -> None:
    cmyk = Image.new("RGB", (32, 32), (20, 20, 220)).convert("CMYK")
    page = next(iter_pages(encode(cmyk, "JPEG", dpi=300), limits=LIMITS))
    assert page.source_mode == "CMYK" and page.image.shape == (32, 32, 3)
    assert page.image[16, 16, 0] > 150 and page.image[16, 16, 2] < 100  # blue -> high B in BGR
    pal = Image.new("RGB", (32, 32), (0, 200, 0)).convert("P")
    page = next(iter_pages(encode(pal, "PNG", dpi=150), limits=LIMITS))
    assert page.source_mode == "P" and page.image.shape == (32, 32, 3) and page.dpi == (150.0, 150.0)
    assert page.image[5, 5, 1] > 150 and page.image[5, 5, 0] < 50


def test_png_alpha_is_flattened_on_white() -> None:
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (0, 0, 10, 20))
    page = next(iter_pages(encode(rgba, "PNG", dpi=None), limits=LIMITS))
    assert page.dpi is None
    assert page.image[10, 15].tolist() == [255, 255, 255] and page.image[10, 2].tolist() == [0, 0, 0]


def test_pdf_pages_render_at_limit_dpi_and_report_embedded_dpi(pages: list[Image.Image]) -> None:
    data = encode(pages[:2], "PDF", dpi=150)
    limits = DecodeLimits(pdf_render_dpi=100)
    info = probe(data, limits=limits)
    assert (info.format, info.page_count) == ("pdf", 2)
    w_pt, h_pt = info.pages_meta[0]["page_size_pt"]
    assert (w_pt, h_pt) == pytest.approx((pages[0].width / 150 * 72, pages[0].height / 150 * 72), abs=0.5)
    decoded = list(iter_pages(data, limits=limits))
    assert len(decoded) == 2
    page = decoded[0]
    assert page.dpi == (100.0, 100.0) and page.source_mode == "pdf-render"
    assert page.extra["embedded_dpi"] == pytest.approx((150.0, 150.0), abs=0.5)
    assert page.image.shape == (info.pages_meta[0]["height"], info.pages_meta[0]["width"])
    assert page.image.ndim == 2 and page.color_mode == "gray"  # gray scan stays gray
    # content survived the round trip: dark ink exists and pages differ (mirror images)
    assert page.image.min() < 80 and not np.array_equal(decoded[0].image, decoded[1].image)


def test_decoding_leaves_pillow_globals_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100x100 image decodes even if someone lowered Pillow's global bomb limit; globals stay untouched."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = encode(Image.new("L", (100, 100), 255), "PNG", dpi=300)
    assert next(iter_pages(data, limits=LIMITS)).image.shape == (100, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_probe_reads_headers_only(pages: list[Image.Image]) -> None:
    data = encode([p.convert("1") for p in pages], "TIFF", dpi=300, compression="group4")
    info = probe(data, limits=LIMITS)
    assert info.page_count == 3
    meta = info.pages_meta[1]
    assert (meta["width"], meta["height"]) == pages[1].size
    assert (meta["mode"], meta["color_mode"], meta["bit_depth"], meta["compression"]) == ("1", "bilevel", 1, "group4")
