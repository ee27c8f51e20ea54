"""hOCR and searchable PDF outputs."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from dangan.ocr import OcrLine, PageResult
from dangan.ocr.output import render
from dangan.ocr.output.render import searchable_pdf, to_hocr
from tests.ocr.pages import FORM_LINES, squash

XHTML = "{http://www.w3.org/1999/xhtml}"


def result_with(lines: list[OcrLine], width: int = 1100, height: int = 330) -> PageResult:
    return PageResult(lines, "ppocr", "PP-OCRv6_small det+rec@abc", {}, "cpu", 0.1, width, height)


def image_bytes(width: int, height: int, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, fmt)
    return buf.getvalue()


def pdftotext(path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils is required"
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_hocr_is_xml_with_page_and_line_boxes():
    lines = [
        OcrLine("姓名 张三", 0.98, ((10.0, 20.0), (200.0, 20.0), (200.0, 60.0), (10.0, 60.0))),
        OcrLine("A<B & C>", 0.5, ((10.0, 80.0), (300.0, 95.0), (298.0, 135.0), (8.0, 120.0))),
    ]
    root = ET.fromstring(to_hocr(result_with(lines), (1100, 330), "chi_sim").encode())
    assert root.tag == f"{XHTML}html"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-Hans"
    page = root.find(f".//{XHTML}div[@class='ocr_page']")
    assert page is not None and page.get("title").startswith("bbox 0 0 1100 330")
    spans = root.findall(f".//{XHTML}span[@class='ocr_line']")
    assert [s.find(f"{XHTML}span").text for s in spans] == ["姓名 张三", "A<B & C>"]
    assert spans[0].get("title") == "bbox 10 20 200 60"
    assert re.search(r"textangle -?\d", spans[1].get("title"))  # the tilted line carries its angle
    assert "x_wconf 98" in spans[0].find(f"{XHTML}span").get("title")


def test_searchable_pdf_text_comes_back_with_pdftotext(ppocr_engine, form_image, tmp_path):
    [result] = ppocr_engine.recognize([form_image])
    buf = io.BytesIO()
    Image.fromarray(form_image).save(buf, "JPEG", quality=85)
    out = tmp_path / "page.pdf"
    blob = searchable_pdf([(buf.getvalue(), result, 300)], out)
    assert out.read_bytes() == blob and blob.startswith(b"%PDF")
    text = squash(pdftotext(out))
    for line in FORM_LINES:
        assert squash(line) in text
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    w_pt, h_pt = (float(v) for v in re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert w_pt == pytest.approx(form_image.shape[1] * 72 / 300, abs=0.5)
    assert h_pt == pytest.approx(form_image.shape[0] * 72 / 300, abs=0.5)
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert "yes" in fonts.splitlines()[-1].split()  # embedded subset


def test_multi_page_pdf_with_scaled_boxes_rotated_line_and_failed_page(tmp_path):
    # OCR ran on a half-size copy: boxes must be scaled up to the full image.
    small = result_with(
        [OcrLine("缴费基数 15,380.00", 0.9, ((30.0, 30.0), (300.0, 30.0), (300.0, 55.0), (30.0, 55.0)))], 550, 165
    )
    tilted = result_with(
        [OcrLine("参保日期 2001年7月", 0.9, ((50.0, 100.0), (600.0, 200.0), (590.0, 245.0), (40.0, 145.0)))]
    )
    failed = PageResult([], "ppocr", "m", {}, "cpu", 0.0, 0, 0, error="OCR_EMPTY_IMAGE: x")
    pages = [
        (image_bytes(1100, 330), small, 300),
        (image_bytes(1100, 330, "PNG"), tilted, 300),
        (image_bytes(200, 200), failed, 150),
    ]
    sink = io.BytesIO()
    blob = searchable_pdf(pages, sink)
    assert sink.getvalue() == blob
    (tmp_path / "m.pdf").write_bytes(blob)
    pages_text = pdftotext(tmp_path / "m.pdf").split("\f")
    assert "缴费基数15,380.00" in squash(pages_text[0])
    assert "参保日期2001年7月" in squash(pages_text[1])
    assert squash(pages_text[2]) == ""
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(tmp_path / "m.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    x_min = float(re.search(r'<word xMin="([\d.]+)"', bbox).group(1))
    assert x_min == pytest.approx(60 * 72 / 300, abs=2)  # 30 px on the half-size copy = 60 px here


def test_cid_font_fallback_without_ttf(monkeypatch, tmp_path):
    monkeypatch.setattr(render, "FONT_CANDIDATES", ())
    result = result_with([OcrLine("姓名 张三", 0.9, ((10.0, 20.0), (300.0, 20.0), (300.0, 70.0), (10.0, 70.0)))])
    (tmp_path / "cid.pdf").write_bytes(searchable_pdf([(image_bytes(1100, 330), result, 300)]))
    assert "姓名张三" in squash(pdftotext(tmp_path / "cid.pdf"))
    with pytest.raises(FileNotFoundError):
        searchable_pdf([(image_bytes(10, 10), result, 300)], font_path=tmp_path / "missing.ttf")
