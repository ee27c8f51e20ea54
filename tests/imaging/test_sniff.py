"""Content sniffing decides the format; file names never do."""

from __future__ import annotations

import pytest
from PIL import Image

from dangan.imaging import ACCEPTED, DecodeLimits, iter_pages, sniff_format
from tests.imaging.synth import encode


def _img() -> Image.Image:
    return Image.new("RGB", (16, 12), (200, 30, 30))


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("TIFF", "tiff"), ("JPEG", "jpeg"), ("PNG", "png"), ("PDF", "pdf"), ("GIF", "gif"), ("BMP", "bmp")],
)
def test_sniff_pillow_outputs(fmt: str, expected: str) -> None:
    assert sniff_format(encode(_img(), fmt, dpi=None)[:1024]) == expected


def test_sniff_other_signatures() -> None:
    assert sniff_format(b"MM\x00*\x00\x00\x00\x08") == "tiff"
    assert sniff_format(b"II+\x00\x08\x00\x00\x00") == "tiff"  # BigTIFF
    assert sniff_format(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 20) == "jp2"
    assert sniff_format(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff_format(b"junk before the header\n%PDF-1.7\n") == "pdf"
    assert sniff_format(b"x" * 1100 + b"%PDF-1.7") is None  # beyond the first 1024 bytes
    assert sniff_format(b"hello, this is a text file") is None
    assert sniff_format(b"") is None
    assert {"jp2", "gif", "bmp", "webp"}.isdisjoint(ACCEPTED)
    assert {"tiff", "jpeg", "png", "pdf"} == ACCEPTED


def test_extension_is_ignored(tmp_path) -> None:
    jpeg = encode(Image.new("L", (40, 30), 128), "JPEG", dpi=200)
    path = tmp_path / "scan_0001.tif"  # lying extension
    path.write_bytes(jpeg)
    data = path.read_bytes()
    assert sniff_format(data[:1024]) == "jpeg"
    pages = list(iter_pages(data, limits=DecodeLimits()))
    assert [p.compression for p in pages] == ["jpeg"]
