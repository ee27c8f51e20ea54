"""Every class of bad input maps to its own stable error, raised before pixels are allocated."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from PIL import Image, ImageFile

from dangan.errors import (
    CorruptImage,
    EmptyFile,
    PageLimitExceeded,
    PdfEncrypted,
    PdfMalformed,
    PdfPageLimit,
    PixelLimitExceeded,
    UnsupportedFormat,
)
from dangan.imaging import DecodeLimits, iter_pages, probe
from tests.imaging.synth import build_pdf, encode, encrypted_pdf, png_bomb, text_page, tiff_bomb

LIMITS = DecodeLimits()
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about corrupt TIFF tags


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return text_page(200, (50, 70), table=False)


def _decode_all(data: bytes, limits: DecodeLimits = LIMITS) -> int:
    return len(list(iter_pages(data, limits=limits)))


def test_empty_file() -> None:
    with pytest.raises(EmptyFile) as exc:
        _decode_all(b"")
    assert exc.value.code == "INGEST_EMPTY_FILE"
    with pytest.raises(EmptyFile):
        probe(b"", limits=LIMITS)
    with pytest.raises(EmptyFile):
        _decode_all(b"\xff\xd8\xff", DecodeLimits(min_bytes=100))


def test_text_file_with_png_name_is_unsupported(tmp_path) -> None:
    fake = tmp_path / "page.png"
    fake.write_text("姓名,身份证号\n张三,***\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormat) as exc:
        _decode_all(fake.read_bytes())
    assert exc.value.details["detected"] == "unknown"


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "gif"), ("BMP", "bmp"), ("WEBP", "webp")])
def test_recognized_but_refused_formats(fmt: str, name: str) -> None:
    data = encode(Image.new("RGB", (16, 16), (0, 0, 0)), fmt, dpi=None)
    with pytest.raises(UnsupportedFormat) as exc:
        probe(data, limits=LIMITS)
    assert exc.value.details["detected"] == name
    assert json.dumps(exc.value.to_dict())


@pytest.mark.parametrize("flag", [False, True], ids=["default", "LOAD_TRUNCATED_IMAGES-set"])
@pytest.mark.parametrize(
    ("fmt", "kw"),
    [("JPEG", {}), ("PNG", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"})],
    ids=["jpeg", "png", "tiff-raw", "tiff-lzw"],
)
def test_truncated_files_are_corrupt(
    page: Image.Image, fmt: str, kw: dict, flag: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Truncation is caught even when another module made Pillow tolerate truncated images globally."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", flag)
    data = encode(page, fmt, dpi=200, **kw)
    assert _decode_all(data) == 1
    with pytest.raises(CorruptImage) as exc:
        _decode_all(data[: int(len(data) * 0.8)])
    assert exc.value.details["page"] == 0 and exc.value.details["error"]


def test_truncated_multipage_tiff_reports_the_page(page: Image.Image) -> None:
    data = encode([page, page, page], "TIFF", dpi=200)  # uncompressed: IFDs lead each page
    with pytest.raises(CorruptImage) as exc:
        _decode_all(data[: int(len(data) * 0.6)])
    assert exc.value.details["page"] in (1, 2)


@pytest.mark.parametrize("bomb", [png_bomb, tiff_bomb], ids=["png", "tiff-group4"])
def test_decompression_bomb_rejected_before_allocation(bomb) -> None:
    data = bomb(30000, 30000)
    assert len(data) < 1000
    tracemalloc.start()
    try:
        with pytest.raises(PixelLimitExceeded) as exc:
            iter_pages(data, limits=LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # decoding would need 900 MB
    assert exc.value.details == {"width": 30000, "height": 30000, "limit": 250_000_000, "page": 0}
    with pytest.raises(PixelLimitExceeded):
        probe(data, limits=LIMITS)


def test_pixel_limit_is_ours_not_pillows(page: Image.Image) -> None:
    data = encode(page, "PNG", dpi=200)
    small = DecodeLimits(max_pixels=page.width * page.height - 1)
    with pytest.raises(PixelLimitExceeded):
        probe(data, limits=small)
    assert _decode_all(data, DecodeLimits(max_pixels=page.width * page.height)) == 1


def test_tiff_page_limit(page: Image.Image) -> None:
    data = encode([page, page, page], "TIFF", dpi=200, compression="tiff_lzw")
    with pytest.raises(PageLimitExceeded) as exc:
        probe(data, limits=DecodeLimits(max_pages=2))
    assert exc.value.details["limit"] == 2
    assert _decode_all(data, DecodeLimits(max_pages=3)) == 3


def test_encrypted_pdf() -> None:
    with pytest.raises(PdfEncrypted) as exc:
        _decode_all(encrypted_pdf())
    assert exc.value.code == "INGEST_PDF_ENCRYPTED"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n",
        build_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]),
    ],
    ids=["garbage", "no-pages"],
)
def test_malformed_pdf(data: bytes) -> None:
    with pytest.raises(PdfMalformed):
        probe(data, limits=LIMITS)


def test_pdf_page_limit(page: Image.Image) -> None:
    data = encode([page, page, page], "PDF", dpi=200)
    with pytest.raises(PdfPageLimit) as exc:
        iter_pages(data, limits=DecodeLimits(max_pdf_pages=2))
    assert exc.value.details == {"page_count": 3, "limit": 2}
    assert _decode_all(data, DecodeLimits(max_pdf_pages=3, pdf_render_dpi=72)) == 3


def test_pdf_pixel_limit_checked_before_rendering() -> None:
    data = build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",  # 200 x 200 inch
        ]
    )
    with pytest.raises(PixelLimitExceeded) as exc:
        iter_pages(data, limits=LIMITS)
    assert exc.value.details["width"] in (60000, 60001)  # same ceil() as the renderer uses
    assert probe(data, limits=DecodeLimits(pdf_render_dpi=36)).pages_meta[0]["width"] == 7200  # within limit
