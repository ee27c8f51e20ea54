"""The individual four-property checks (四性检测: authenticity, integrity, usability, security) on bag contents.

Each function returns a list of :class:`Problem`; none raises for a bad package. They take plain data (paths,
bytes, parsed metadata) so batch-level checks can reuse them outside transfers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dangan.errors import DanganError
from dangan.transfer import bag

if TYPE_CHECKING:
    from dangan.imaging.decode import DecodeLimits

AUTHENTICITY, INTEGRITY, USABILITY, SECURITY = "authenticity", "integrity", "usability", "security"
PROPERTIES = (AUTHENTICITY, INTEGRITY, USABILITY, SECURITY)

#: Payload folders and the file extensions each may hold.
ALLOWED_EXT: dict[str, frozenset[str]] = {
    "masters": frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".png", ".pdf"}),
    "derivatives": frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf", ".json", ".webp"}),
    "ocr": frozenset({".json", ".hocr", ".html", ".xml", ".txt"}),
    "metadata": frozenset({".json"}),
    "fields": frozenset({".json"}),
}
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
_EXEC_MAGIC = (
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"#!", "script"),
    (b"\xca\xfe\xba\xbe", "Mach-O/Java class"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"PK\x03\x04", "zip archive"),
)
_EXT_FORMAT = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "tif": "tiff", "tiff": "tiff", "pdf": "pdf", "webp": "webp"}


@dataclass(frozen=True)
class Problem:
    """One failed check: which property, a stable code, the file concerned (bag path) and what was found."""

    property: str
    code: str
    file: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_path(path: str) -> str | None:
    """Why a manifest path is unsafe (traversal, absolute, odd characters, unknown folder), or ``None``."""
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        return "path traversal or absolute path"
    if parts[0] != "data" or len(parts) < 3 or parts[1] not in ALLOWED_EXT:
        return "outside the payload folders data/{masters,derivatives,ocr,metadata,fields}"
    if not all(_SAFE_SEGMENT.match(p) for p in parts):
        return "characters outside [A-Za-z0-9_.-]"
    ext = "." + parts[-1].rsplit(".", 1)[-1].lower() if "." in parts[-1] else ""
    if ext not in ALLOWED_EXT[parts[1]]:
        return f"extension {ext or '(none)'} not allowed in data/{parts[1]}"
    return None


def check_content(path: str, head: bytes, data: bytes | None) -> list[Problem]:
    """Executable or active content where only scans, images and JSON belong.

    PDFs are parsed (``dangan.imaging.pdf_active``): active features are looked for in the object graph, never
    by searching bytes, which matched ``/JS`` inside compressed image data of dangan's own searchable PDFs.
    """
    problems = [
        Problem(SECURITY, "EXECUTABLE_CONTENT", path, f"content looks like a {what}")
        for magic, what in _EXEC_MAGIC
        if head.startswith(magic)
    ]
    from dangan.imaging.sniff import sniff_format  # the imaging package is heavy to import

    ext = path.rsplit(".", 1)[-1].lower()
    if ext in _EXT_FORMAT and head and sniff_format(head) != _EXT_FORMAT[ext]:
        problems.append(Problem(SECURITY, "CONTENT_TYPE_MISMATCH", path, f"content is not {_EXT_FORMAT[ext]}"))
    elif ext == "json" and head and head.lstrip()[:1] not in (b"{", b"["):
        problems.append(Problem(SECURITY, "CONTENT_TYPE_MISMATCH", path, "content is not JSON"))
    if (data or head).lstrip()[:5] == b"%PDF-":
        problems += _pdf_problems(path, ext, data, problems)
    return problems


def _pdf_problems(path: str, ext: str, data: bytes | None, found: list[Problem]) -> list[Problem]:
    """Active content of a PDF from its parsed object graph (``dangan.imaging.pdf_active``), never its raw bytes.

    Codes: ``ACTIVE_PDF_CONTENT`` (which feature, reached how, in which object), ``PDF_UNREADABLE``,
    ``PDF_TOO_COMPLEX``. Without ``data`` (a caller that kept only the head of a file not named .pdf) the PDF
    cannot be examined, which is a refusal too.
    """
    if data is None:
        if any(p.code == "CONTENT_TYPE_MISMATCH" for p in found):
            return []  # already refused for being a PDF under another name
        return [Problem(SECURITY, "CONTENT_TYPE_MISMATCH", path, f"content is a PDF under a .{ext} name")]
    from dangan.imaging.pdf_active import scan_pdf

    return [Problem(SECURITY, f.code, path, f.message) for f in scan_pdf(data)]


def check_master(
    entry: dict[str, Any], data: bytes, pages: list[dict[str, Any]], limits: DecodeLimits
) -> list[Problem]:
    """Usability (decodes) and authenticity of file properties (size, format, page count, page sizes)."""
    from dangan.imaging.decode import iter_pages, probe  # numpy/OpenCV/pdfium: only when masters are checked

    path = entry["path"]
    out: list[Problem] = []
    if len(data) != entry.get("size"):
        out.append(Problem(AUTHENTICITY, "SIZE_MISMATCH", path, f"{len(data)} bytes, catalogued {entry.get('size')}"))
    try:
        found = probe(data, limits=limits)  # headers: format, pages, sizes
        for _page in iter_pages(data, limits=limits):  # pixels: truncation shows only when decoding
            pass
    except DanganError as exc:
        return [*out, Problem(USABILITY, "DECODE_FAILED", path, f"{exc.code}: {exc.message}")]
    if found.format != entry.get("format"):
        out.append(
            Problem(AUTHENTICITY, "FORMAT_MISMATCH", path, f"is {found.format}, catalogued {entry.get('format')}")
        )
    if found.page_count != entry.get("page_count"):
        out.append(
            Problem(
                AUTHENTICITY, "PAGE_COUNT_MISMATCH", path, f"{found.page_count} pages, catalogued {entry['page_count']}"
            )
        )
    for page in pages:
        idx = page["page_index"]
        meta = found.pages_meta[idx] if 0 <= idx < len(found.pages_meta) else None
        if meta is None:
            out.append(Problem(INTEGRITY, "PAGE_MISSING", path, f"page index {idx} not in the file"))
        elif page.get("width") and (meta.get("width"), meta.get("height")) != (page["width"], page["height"]):
            out.append(
                Problem(
                    AUTHENTICITY,
                    "PAGE_SIZE_MISMATCH",
                    path,
                    f"page {idx} is {meta.get('width')}x{meta.get('height')}, "
                    f"catalogued {page['width']}x{page['height']}",
                )
            )
    return out


def check_catalog(
    catalog: dict[str, Any], ocr: list[dict[str, Any]], fields: list[dict[str, Any]], payload: set[str]
) -> list[Problem]:
    """Integrity: every catalogued object is in the package, every packaged file is catalogued, no gaps."""
    out: list[Problem] = []
    refs = {
        kind: {row["ref"] for row in catalog.get(kind, [])} for kind in ("dossiers", "documents", "masters", "pages")
    }
    listed = {row["path"] for kind in ("masters", "derivatives") for row in catalog.get(kind, [])}
    listed |= {row["path"] for row in ocr if row.get("path")}
    for path in sorted(listed - payload):
        out.append(Problem(INTEGRITY, "NOT_IN_PACKAGE", path, "catalogued but missing from the manifest"))
    for path in sorted(payload - listed - set(bag.METADATA_PATHS)):
        out.append(Problem(INTEGRITY, "NOT_CATALOGUED", path, "in the manifest but not in catalog.json"))

    def dangling(kind: str, rows: list[dict[str, Any]], key: str, target: str, optional: bool = False) -> None:
        for row in rows:
            value = row.get(key)
            if (value is None and not optional) or (value is not None and value not in refs[target]):
                out.append(Problem(INTEGRITY, "DANGLING_REFERENCE", bag.CATALOG_PATH, f"{kind} {key}={value}"))

    dangling("document", catalog.get("documents", []), "dossier", "dossiers")
    dangling("page", catalog.get("pages", []), "master", "masters")
    dangling("page", catalog.get("pages", []), "document", "documents")
    dangling("ocr result", ocr, "page", "pages")
    dangling("field", fields, "document", "documents")
    dangling("field", fields, "page", "pages", optional=True)
    by_doc: dict[str, list[int]] = defaultdict(list)
    for page in catalog.get("pages", []):
        by_doc[page.get("document")].append(int(page.get("seq") or 0))
    for doc in catalog.get("documents", []):
        seqs = sorted(by_doc.get(doc["ref"], []))
        if seqs != list(range(1, len(seqs) + 1)):
            out.append(Problem(INTEGRITY, "PAGE_GAP", bag.CATALOG_PATH, f"document {doc['ref']} page seq {seqs}"))
        expected = doc.get("page_count")  # the catalog's own count (expected_pages is the operator's claim)
        if expected and expected != len(seqs):
            out.append(
                Problem(
                    INTEGRITY, "PAGE_COUNT", bag.CATALOG_PATH, f"document {doc['ref']}: {len(seqs)} of {expected} pages"
                )
            )
    return out
