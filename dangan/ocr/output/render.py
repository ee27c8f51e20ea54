"""OCR outputs for people and other tools: hOCR and double-layer (searchable) PDF.

The PDF draws each page image at its scan resolution and puts every line's text over its box in render
mode 3 (invisible), stretched to the box width (and turned by the box angle when that is 5° or more: text
extractors split slightly rotated runs), so selection and search land on the right place. The text font is
a subset of WenQuanYi Zen Hei embedded as TrueType with a ToUnicode map (``pdftotext`` reads the Chinese
back). A character the font lacks (rare name characters of CJK Extension B and later) is drawn as 〓 inside a
marked-content span whose ``/ActualText`` is the line's real text, so extractors still read it (reportlab
alone writes it as code 0 with no Unicode mapping: it vanished from the text). The file is then made PDF/A-2b
(``dangan.ocr.output.pdfa``, needs ``pikepdf``); without the font file, reportlab's built-in ``STSong-Light`` CID
font is used (not embedded) and the PDF claims no PDF/A: ``pdfa_conformance`` tells which. Needs the
``reportlab`` package.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import BinaryIO

from dangan.ocr.engines.base import PageResult, bbox_of
from dangan.ocr.output.pdfa import PdfaError, make_pdfa, opaque_image, pdfa_conformance

__all__ = ["pdfa_conformance", "searchable_pdf", "to_hocr"]
log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
_LANGS = {"chi_sim": "zh-Hans", "chi_tra": "zh-Hant", "eng": "en"}
_MIN_ROTATE_DEG = 5.0
_PLACEHOLDERS = ("〓", "□", "?")  # drawn for a character the embedded font lacks (GB convention: 〓)
_font_lock = threading.Lock()
_registered: dict[str, str] = {}


def _line_angle(box: Sequence[tuple[float, float]]) -> float:
    """Baseline angle in degrees, image coordinates (positive: runs downhill to the right)."""
    (x3, y3), (x2, y2) = box[3], box[2]
    return math.degrees(math.atan2(y2 - y3, x2 - x3))


def to_hocr(result: PageResult, image_size: tuple[int, int] | None = None, lang: str = "chi_sim") -> str:
    """hOCR 1.2 XHTML for one page: an ``ocr_page`` with one ``ocr_line`` (holding one ``ocrx_word``) per line."""
    width, height = image_size or (result.width, result.height)
    xml_lang = _LANGS.get(lang.split("+")[0], lang)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="{escape(xml_lang)}" lang="{escape(xml_lang)}">',
        "<head>",
        "<title>OCR</title>",
        '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
        f'<meta name="ocr-system" content="dangan {escape(result.engine)} {escape(result.model)}"/>',
        '<meta name="ocr-capabilities" content="ocr_page ocr_line ocrx_word"/>',
        "</head>",
        "<body>",
        f'<div class="ocr_page" id="page_1" title="bbox 0 0 {width} {height}; ppageno 0">',
    ]
    for n, line in enumerate(result.lines, start=1):
        x0, y0, x1, y1 = (round(v) for v in bbox_of(line.box))
        conf = round(line.confidence * 100)
        angle = -_line_angle(line.box)  # hOCR textangle is counter-clockwise
        extra = f"; textangle {angle:.1f}" if abs(angle) >= 0.5 else ""
        parts.append(
            f'<span class="ocr_line" id="line_1_{n}" title="bbox {x0} {y0} {x1} {y1}{extra}">'
            f'<span class="ocrx_word" id="word_1_{n}" title="bbox {x0} {y0} {x1} {y1}; x_wconf {conf}">'
            f"{escape(line.text)}</span></span>"
        )
    parts += ["</div>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _text_font(font_path: Path | None) -> str:
    """Register (once) and return the reportlab font name used for the invisible text layer."""
    from reportlab.pdfbase import pdfmetrics

    candidates = [font_path] if font_path is not None else list(FONT_CANDIDATES)
    key = "|".join(str(p) for p in candidates)
    with _font_lock:
        if key in _registered:
            return _registered[key]
        name = "STSong-Light"
        for path in candidates:
            if path is not None and path.is_file():
                from reportlab.pdfbase.ttfonts import TTFont

                name = f"OcrText{len(_registered)}"
                pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
                break
        else:
            if font_path is not None:
                raise FileNotFoundError(f"font file {font_path} not found")
            from reportlab.pdfbase.cidfonts import UnicodeCIDFont

            pdfmetrics.registerFont(UnicodeCIDFont(name))
        _registered[key] = name
        return name


def _glyph_safe(text: str, font: str) -> str:
    """``text`` with each character the embedded font has no glyph for replaced by a placeholder it has."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getFont(font)
    if not isinstance(registered, TTFont):  # the CID fallback: reportlab maps characters itself
        return text
    have = registered.face.charToGlyph
    placeholder = next((c for c in _PLACEHOLDERS if ord(c) in have), " ")
    return "".join(c if ord(c) in have else placeholder for c in text)


def _actual_text(text: str) -> str:
    """A PDF text string (UTF-16BE with BOM, hex) for an ``/ActualText`` entry."""
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def searchable_pdf(
    pages: Sequence[tuple[bytes, PageResult, float]],
    out: str | Path | BinaryIO | None = None,
    *,
    font_path: Path | None = None,
    pdfa: bool = True,
    title: str = "OCR scan",
    author: str = "dangan",
) -> bytes:
    """A PDF with one page per ``(image bytes (JPEG/PNG), result, dpi)``; written to ``out`` if given.

    With ``pdfa`` (the default) the file is PDF/A-2b when it can be: the text font is embedded, pikepdf is
    installed and its PDF/A validator (when installed) approves; otherwise a plain PDF comes back and
    ``pdfa_conformance(blob)`` is None (a warning is logged). ``title`` and ``author`` go to the Info dictionary
    and the XMP metadata (dc:title, dc:creator).
    """
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = _text_font(font_path)
    embedded = isinstance(getFont(font), TTFont)
    buf = io.BytesIO()
    # initialFontName: reportlab opens each page with "BT <font> 12 Tf ET"; by default an unembedded Helvetica
    pdf = canvas.Canvas(buf, pageCompression=1, invariant=1, initialFontName=font)
    pdf.setCreator("dangan OCR")
    pdf.setTitle(title)
    pdf.setAuthor(author)
    for data, result, dpi in pages:
        if pdfa:
            data = opaque_image(data)
        with Image.open(io.BytesIO(data)) as im:
            img_w, img_h = im.size
        scale = 72.0 / float(dpi)
        page_w, page_h = img_w * scale, img_h * scale
        pdf.setPageSize((page_w, page_h))
        pdf.drawImage(ImageReader(io.BytesIO(data)), 0, 0, width=page_w, height=page_h)
        # Boxes are in the OCR'd image's pixels, which may be a resized copy of this one.
        sx = img_w / result.width * scale if result.width else scale
        sy = img_h / result.height * scale if result.height else scale
        for line in result.lines:
            if not line.text:
                continue
            (x0, y0), _, (x2, y2), (x3, y3) = line.box[:4]
            box_w = math.hypot((x2 - x3) * sx, (y2 - y3) * sy)
            box_h = math.hypot((x3 - x0) * sx, (y3 - y0) * sy)
            if box_w <= 0 or box_h <= 0:
                continue
            drawn = _glyph_safe(line.text, font)
            size = box_h * 0.8
            natural = stringWidth(drawn, font, size) or 1.0
            angle = math.degrees(math.atan2((y2 - y3) * sy, (x2 - x3) * sx))
            cx = sum(p[0] for p in line.box[:4]) / 4 * sx
            cy = page_h - sum(p[1] for p in line.box[:4]) / 4 * sy
            text = pdf.beginText()
            text.setTextRenderMode(3)
            text.setFont(font, size)
            text.setHorizScale(100.0 * box_w / natural)
            pdf.saveState()
            pdf.translate(cx, cy)
            # Text extractors split slightly rotated runs into pieces: only turn clearly rotated lines.
            if abs(angle) >= _MIN_ROTATE_DEG:
                pdf.rotate(-angle)
            text.setTextOrigin(-box_w / 2, -0.35 * size)  # CJK glyph body centre sits ~0.35 em above baseline
            text.textOut(drawn)
            if drawn != line.text:
                pdf.addLiteral(f"/Span <</ActualText {_actual_text(line.text)}>> BDC")
            pdf.drawText(text)
            if drawn != line.text:
                pdf.addLiteral("EMC")
            pdf.restoreState()
        pdf.showPage()
    pdf.save()
    blob = buf.getvalue()
    if pdfa and embedded:
        try:
            blob = make_pdfa(blob, title=title, author=author, creator="dangan OCR")
        except (ImportError, PdfaError) as exc:
            log.warning("searchable PDF is not PDF/A: %s", exc)
    elif pdfa:
        log.warning("searchable PDF is not PDF/A: text font %s is not embedded", font)
    if isinstance(out, str | Path):
        Path(out).write_bytes(blob)
    elif out is not None:
        out.write(blob)
    return blob
