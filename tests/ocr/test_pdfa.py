"""PDF/A-2b searchable PDFs: every required element checked directly in the file, validators where installed."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from dangan.ocr import OcrLine, PageResult
from dangan.ocr.output import pdfa, render
from dangan.ocr.output.pdfa import PdfaError, make_pdfa, pdfa_conformance
from dangan.ocr.output.render import searchable_pdf
from tests.ocr.pages import squash

pikepdf = pytest.importorskip("pikepdf", reason="pikepdf is required for PDF/A (pip install 'pikepdf[pdfa]')")

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
}
RARE = "王𫖮"  # U+2B5AE (CJK Extension E, a name character) is not in WenQuanYi Zen Hei
PREFLIGHT_JARS = [
    Path("/usr/share/java", name)
    for name in ("preflight.jar", "pdfbox2.jar", "fontbox2.jar", "xmpbox.jar", "commons-logging.jar")
] + [Path("/usr/share/java/javax.activation.jar"), Path("/usr/share/java/jaxb-api.jar")]


def line(text: str, x: float, y: float, w: float = 400.0, h: float = 50.0) -> OcrLine:
    return OcrLine(text, 0.9, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def pages() -> list[tuple[bytes, PageResult, float]]:
    """RGB JPEG, RGBA PNG (half transparent: must be flattened) and gray PNG pages, one with a rare character."""
    result = PageResult(
        [line("姓名 张三", 10, 20), line(f"经办人 {RARE}", 10, 100), line("缴费基数 15,380.00", 10, 180)],
        "ppocr",
        "m",
        {},
        "cpu",
        0.1,
        1100,
        330,
    )
    return [
        (encoded(Image.new("RGB", (1100, 330), "white"), "JPEG"), result, 300),
        (encoded(Image.new("RGBA", (1100, 330), (255, 0, 0, 128)), "PNG"), result, 300),
        (encoded(Image.new("L", (1100, 330), 230), "PNG"), result, 300),
    ]


@pytest.fixture(scope="module")
def blob(pages) -> bytes:
    return searchable_pdf(pages, title="档案 42 <测试>", author="某县社保局")


def pdftotext(data: bytes, tmp_path: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils is required"
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def xmp_of(pdf) -> ET.Element:
    meta = pdf.Root.Metadata
    assert meta.Type == "/Metadata" and meta.Subtype == "/XML"
    assert "/Filter" not in meta  # readable without a PDF library (and required so by PDF/A-1)
    raw = meta.read_bytes()
    assert raw.startswith(b"<?xpacket begin=") and raw.rstrip().endswith(b'<?xpacket end="w"?>')
    return ET.fromstring(raw)


def test_xmp_identifies_pdfa_2b_and_mirrors_the_info_dictionary(blob):
    assert pdfa_conformance(blob) == "PDF/A-2B"
    with pikepdf.open(io.BytesIO(blob)) as pdf:
        root, info = xmp_of(pdf), pdf.docinfo
        assert root.findtext(".//pdfaid:part", namespaces=NS) == "2"
        assert root.findtext(".//pdfaid:conformance", namespaces=NS) == "B"
        assert root.findtext(".//dc:title/rdf:Alt/rdf:li", namespaces=NS) == str(info.Title) == "档案 42 <测试>"
        assert root.findtext(".//dc:creator/rdf:Seq/rdf:li", namespaces=NS) == str(info.Author) == "某县社保局"
        assert root.findtext(".//xmp:CreatorTool", namespaces=NS) == str(info.Creator)
        assert root.findtext(".//pdf:Producer", namespaces=NS) == str(info.Producer)
        decode = pikepdf.models.metadata.decode_pdf_date
        assert root.findtext(".//xmp:CreateDate", namespaces=NS) == decode(str(info.CreationDate)).isoformat()
        assert root.findtext(".//xmp:ModifyDate", namespaces=NS) == decode(str(info.ModDate)).isoformat()
        assert set(info.keys()) <= {"/Title", "/Author", "/Creator", "/Producer", "/CreationDate", "/ModDate"}


def test_output_intent_embeds_an_rgb_icc_profile(blob):
    with pikepdf.open(io.BytesIO(blob)) as pdf:
        [intent] = pdf.Root.OutputIntents
        assert intent.Type == "/OutputIntent" and intent.S == "/GTS_PDFA1"
        assert str(intent.OutputConditionIdentifier)
        profile = intent.DestOutputProfile
        assert profile.N == 3
        icc = profile.read_bytes()
        assert icc[36:40] == b"acsp" and icc[16:20] == b"RGB " and icc[12:16] == b"mntr"
        assert int.from_bytes(icc[:4], "big") == len(icc) and 2 <= icc[8] <= 4  # size field; ICC version 2-4


def test_file_structure_fonts_and_no_transparency(blob, tmp_path):
    assert re.match(rb"%PDF-1\.[4-7]\r?\n%[\x80-\xff]{4}", blob)  # header + binary comment
    with pikepdf.open(io.BytesIO(blob)) as pdf:
        assert not pdf.is_encrypted and "/Encrypt" not in pdf.trailer
        ids = pdf.trailer.ID
        assert len(ids) == 2 and all(len(bytes(i)) == 16 for i in ids)
        fonts = 0
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                continue
            assert "/SMask" not in obj, "soft mask (transparency) is not allowed"
            group = obj.get("/Group")
            assert group is None or group.get("/S") != "/Transparency"
            if obj.get("/Type") == "/Font" and obj.get("/Subtype") != "/Type0":
                fonts += 1
                assert any(k in obj.FontDescriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), obj.BaseFont
                assert obj.BaseFont != "/Helvetica"
        assert fonts >= 1
        for page in pdf.pages:
            assert "/Trans" not in page.obj
    path = tmp_path / "a.pdf"
    path.write_bytes(blob)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = listing.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows)  # the "emb" column


def test_text_layer_reads_back_including_characters_the_font_lacks(blob, tmp_path):
    text = pdftotext(blob, tmp_path).split("\f")
    for page in text[:3]:
        flat = squash(page)
        assert "姓名张三" in flat and "缴费基数15,380.00" in flat
        assert f"经办人{RARE}" in flat  # drawn as 〓, read back through /ActualText


def test_output_is_deterministic(pages, blob):
    assert searchable_pdf(pages, title="档案 42 <测试>", author="某县社保局") == blob


def test_pikepdf_validator_approves_ours_and_denies_plain_reportlab(pages, blob):
    pytest.importorskip("pikepdf.pdfa", reason="pikepdf's PDF/A validator needs pip install 'pikepdf[pdfa]'")
    assert pdfa.validate(blob) == []
    plain = searchable_pdf(pages, pdfa=False)
    assert pdfa_conformance(plain) is None
    assert pdfa.validate(plain)  # the validator bites: no XMP, no output intent


def test_preflight_pdfa1b_finds_only_part_1_differences(blob, tmp_path):
    """Apache PDFBox Preflight (Debian libpdfbox2-java) checks PDF/A-1b, stricter than 2b nearly everywhere.

    Two findings are expected and only these: the ICC profile is version 4 (PDF/A-1 wants 2) and pdfaid:part
    is 2. Anything else is a defect of our file.
    """
    if not shutil.which("java") or not all(p.is_file() for p in PREFLIGHT_JARS):
        pytest.skip("PDFBox Preflight not installed (apt-get install libpdfbox2-java libactivation-java ...)")
    path = tmp_path / "a.pdf"
    path.write_bytes(blob)
    classpath = ":".join(str(p) for p in PREFLIGHT_JARS)
    cmd = ["java", "-cp", classpath, "org.apache.pdfbox.preflight.Validator_A1b", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    errors = re.findall(r"^\d+(?:\.\d+)* : .*$", out, flags=re.M)
    assert "is not a valid PDF/A-1b file" in out or "is a valid PDF/A-1b file" in out, out
    unexpected = [e for e in errors if "version of the ICCProfile" not in e and "part must be 1" not in e]
    assert unexpected == [], out


def test_fallback_font_does_not_claim_pdfa(monkeypatch, pages, tmp_path):
    monkeypatch.setattr(render, "FONT_CANDIDATES", ())
    data = searchable_pdf(pages[:1])
    assert pdfa_conformance(data) is None
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/OutputIntents" not in pdf.Root
    assert "姓名张三" in squash(pdftotext(data, tmp_path))


def test_no_claim_when_the_validator_denies(monkeypatch, pages):
    monkeypatch.setattr(pdfa, "validate", lambda data: ["ISO_19005_2:x: made up"])
    assert pdfa_conformance(searchable_pdf(pages[:1])) is None


def test_make_pdfa_refuses_unembedded_fonts_and_soft_masks():
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)  # Helvetica: a standard font, never embedded by reportlab
    pdf.drawString(10, 10, "x")
    pdf.save()
    with pytest.raises(PdfaError, match="not embedded"):
        make_pdfa(buf.getvalue(), title="t", author="a", creator="c")
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, initialFontName="Courier")
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 100))
    from reportlab.lib.utils import ImageReader

    pdf.drawImage(ImageReader(rgba), 0, 0, 20, 20, mask="auto")
    pdf.save()
    with pytest.raises(PdfaError, match="soft mask") as info:
        make_pdfa(buf.getvalue(), title="t", author="a", creator="c")
    assert any("Courier" in p for p in info.value.problems)


def test_conformance_read_from_attribute_form_xmp():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="3" '
        'pdfaid:conformance="u"/></rdf:RDF></x:xmpmeta>'
    )
    pdf.Root.Metadata = pdf.make_stream(xmp.encode(), Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
    buf = io.BytesIO()
    pdf.save(buf)
    assert pdfa_conformance(buf.getvalue()) == "PDF/A-3U"
    assert pdfa_conformance(encoded_blank()) is None


def encoded_blank() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()
