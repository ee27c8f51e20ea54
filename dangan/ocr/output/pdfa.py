"""PDF/A-2b for the searchable PDFs: XMP identification, an sRGB output intent, a rewritten file structure.

``make_pdfa`` takes a finished PDF (reportlab's) and rewrites it with pikepdf (qpdf): XMP metadata claiming
PDF/A-2B with dc:title/dc:creator and dates equal to the Info dictionary's, an ``OutputIntent`` (``GTS_PDFA1``)
carrying an embedded sRGB ICC profile (made by Pillow's LittleCMS, so no system file is needed), a trailer
``/ID``, proper stream syntax, no object streams. It refuses (``PdfaError``) what it cannot make conformant
(encryption, a font without an embedded program, soft masks or transparency groups) and, when pikepdf's
PDF/A validator is installed (``pikepdf[pdfa]``), any result that validator does not approve.
``pdfa_conformance`` reads the claim back from a file's XMP. Needs the ``pikepdf`` package.
"""

from __future__ import annotations

import functools
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

PART, CONFORMANCE = 2, "B"
SRGB_CONDITION = "sRGB IEC61966-2.1"
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
}


class PdfaError(ValueError):
    """The PDF cannot be made PDF/A-2b as it is (the reasons are in ``problems``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@functools.cache
def srgb_icc() -> bytes:
    """An sRGB ICC display profile (LittleCMS's built-in sRGB through Pillow; version 4, three components)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def blockers(pdf: Any) -> list[str]:
    """What keeps an open ``pikepdf.Pdf`` from PDF/A-2b and is not fixed here (fonts, transparency, encryption)."""
    import pikepdf

    problems = ["encrypted"] if pdf.is_encrypted else []
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        kind, subtype, smask = obj.get("/Type"), obj.get("/Subtype"), obj.get("/SMask")
        if smask is not None and smask != pikepdf.Name("/None"):
            problems.append("soft mask (transparency)")
        group = obj.get("/Group")
        if isinstance(group, pikepdf.Dictionary) and group.get("/S") == pikepdf.Name.Transparency:
            problems.append("transparency group")
        if kind == "/Font" and subtype not in ("/Type0", "/Type3"):
            descriptor = obj.get("/FontDescriptor")
            if descriptor is None or not any(k in descriptor for k in _FONT_FILES):
                problems.append(f"font {obj.get('/BaseFont')} not embedded")
    return sorted(set(problems))


def opaque_image(data: bytes) -> bytes:
    """The image as it may go into a PDF/A file: 1-bit, gray or RGB without alpha (transparency flattened on white)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if im.mode in ("1", "L", "RGB") and "transparency" not in im.info:
            return data
        rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    flat.save(buf, "PNG")
    return buf.getvalue()


def _xmp_date(pdf_date: Any) -> str:
    """An Info dictionary date (``D:YYYYMMDDHHmmSS+HH'mm'``) as XMP (ISO 8601)."""
    from pikepdf.models.metadata import decode_pdf_date

    return decode_pdf_date(str(pdf_date)).isoformat()


def _xmp(title: str, author: str, creator: str, producer: str, created: str, modified: str) -> bytes:
    """The XMP packet: Dublin Core, XMP basic and Adobe PDF properties mirroring the Info dictionary, and pdfaid."""
    e = escape
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in _NS.items() if k not in ("x", "rdf"))
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="{_NS["rdf"]}">
  <rdf:Description rdf:about="" {ns}>
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{e(author)}</rdf:li></rdf:Seq></dc:creator>
   <xmp:CreateDate>{created}</xmp:CreateDate>
   <xmp:ModifyDate>{modified}</xmp:ModifyDate>
   <xmp:MetadataDate>{modified}</xmp:MetadataDate>
   <xmp:CreatorTool>{e(creator)}</xmp:CreatorTool>
   <pdf:Producer>{e(producer)}</pdf:Producer>
   <pdfaid:part>{PART}</pdfaid:part>
   <pdfaid:conformance>{CONFORMANCE}</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def make_pdfa(data: bytes, *, title: str, author: str, creator: str) -> bytes:
    """``data`` rewritten as PDF/A-2b (deterministic: the same input gives the same bytes); raises ``PdfaError``."""
    import pikepdf
    from pikepdf import Dictionary, Name, String
    from pikepdf.models.metadata import encode_pdf_date

    with pikepdf.open(io.BytesIO(data)) as pdf:
        problems = blockers(pdf)
        if problems:
            raise PdfaError(problems)
        old = pdf.trailer.get("/Info") or Dictionary()
        producer = str(old.get("/Producer", "dangan"))
        created = old.get("/CreationDate") or String(encode_pdf_date(datetime.now(UTC).replace(microsecond=0)))
        modified = old.get("/ModDate") or created
        info = Dictionary(Title=String(title), Author=String(author), Creator=String(creator))
        info.Producer, info.CreationDate, info.ModDate = String(producer), created, modified
        pdf.trailer.Info = pdf.make_indirect(info)
        for page in pdf.pages:  # reportlab writes an empty /Trans (no transition) on every page
            trans = page.obj.get("/Trans")
            if isinstance(trans, pikepdf.Dictionary) and not trans.keys():
                del page.obj["/Trans"]
        xmp = _xmp(title, author, creator, producer, _xmp_date(created), _xmp_date(modified))
        pdf.Root.Metadata = pdf.make_stream(xmp, Type=Name.Metadata, Subtype=Name.XML)
        profile = pdf.make_stream(srgb_icc(), N=3)
        intent = Dictionary(
            Type=Name.OutputIntent,
            S=Name.GTS_PDFA1,
            OutputConditionIdentifier=String(SRGB_CONDITION),
            RegistryName=String("http://www.color.org"),
            Info=String(SRGB_CONDITION),
            DestOutputProfile=profile,
        )
        pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
        out = io.BytesIO()
        pdf.save(
            out,
            min_version="1.7",
            fix_metadata_version=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,  # images and fonts pass through untouched
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            deterministic_id=True,
        )
    findings = validate(out.getvalue())
    if findings:
        raise PdfaError(findings)
    return out.getvalue()


def validate(data: bytes) -> list[str] | None:
    """Findings of pikepdf's PDF/A-2b validator (empty: approved), or None when ``pikepdf[pdfa]`` is not installed.

    That validator approves only what it recognizes as conforming (an allowlist), so an approval is trustworthy
    and a denial may be a false alarm.
    """
    try:
        from pikepdf import pdfa as checker
    except ImportError:
        return None
    report = checker.validate_written(io.BytesIO(data), "2b")
    return [] if report.passed else [str(finding) for finding in report.findings]


def pdfa_conformance(data: bytes) -> str | None:
    """The PDF/A level a PDF's XMP metadata claims (``"PDF/A-2B"``), or None; a claim, not a validation."""
    try:
        import pikepdf
    except ImportError:  # without pikepdf this module made no PDF/A; only a foreign file could still claim one
        if b"pdfaid" not in data:
            return None
        raise
    with pikepdf.open(io.BytesIO(data)) as pdf:
        meta = pdf.Root.get("/Metadata")
        if meta is None:
            return None
        try:
            root = ET.fromstring(meta.read_bytes())
        except ET.ParseError:
            return None
    values: dict[str, str] = {}
    for desc in root.iter(f"{{{_NS['rdf']}}}Description"):
        for key in ("part", "conformance"):
            qname = f"{{{_NS['pdfaid']}}}{key}"
            found = desc.get(qname) or desc.findtext(qname)  # attribute or element form
            if found:
                values[key] = found.strip()
    if "part" not in values:
        return None
    return f"PDF/A-{values['part']}{values.get('conformance', '').upper()}"
