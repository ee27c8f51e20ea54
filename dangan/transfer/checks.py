"""The individual four-property checks (四性检测: authenticity, integrity, usability, security) on bag contents.

Each function returns a list of :class:`Problem`; none raises for a bad package. They take plain data (paths,
bytes, parsed metadata) so batch-level checks can reuse them outside transfers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from dangan.errors import DanganError
from dangan.transfer import bag
from dangan.transfer.archive import ArchivePackage, MasterEntry, PageEntry

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

    def to_dict(self) -> dict[str, str | None]:
        """The problem as JSON (audit events, refusals' ``problems`` lists)."""
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


@dataclass(frozen=True)
class MasterFacts:
    """What :func:`check_master` compares a master's bytes with: its bag path and catalogued properties."""

    path: str
    size: int | None
    format: str | None
    page_count: int | None

    @classmethod
    def of(cls, entry: MasterEntry | Mapping[str, object]) -> MasterFacts:
        """From a package's master entry, or a plain mapping with the same keys (batch checks build those)."""
        if isinstance(entry, MasterEntry):
            return cls(entry.path, entry.size, entry.format, entry.page_count)
        return cls(
            str(entry["path"]), _int(entry.get("size")), _str(entry.get("format")), _int(entry.get("page_count"))
        )


@dataclass(frozen=True)
class PageFacts:
    """A catalogued page of a master: its index in the file and its size in pixels."""

    page_index: int
    width: int | None
    height: int | None

    @classmethod
    def of(cls, page: PageEntry | Mapping[str, object]) -> PageFacts:
        if isinstance(page, PageEntry):
            return cls(page.page_index, page.width, page.height)
        return cls(_int(page.get("page_index")) or 0, _int(page.get("width")), _int(page.get("height")))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def check_master(
    entry: MasterEntry | Mapping[str, object],
    data: bytes,
    pages: Sequence[PageEntry | Mapping[str, object]],
    limits: DecodeLimits,
) -> list[Problem]:
    """Usability (decodes) and authenticity of file properties (size, format, page count, page sizes)."""
    from dangan.imaging.decode import iter_pages, probe  # numpy/OpenCV/pdfium: only when masters are checked

    master = MasterFacts.of(entry)
    path = master.path
    out: list[Problem] = []
    if len(data) != master.size:
        out.append(Problem(AUTHENTICITY, "SIZE_MISMATCH", path, f"{len(data)} bytes, catalogued {master.size}"))
    try:
        found = probe(data, limits=limits)  # headers: format, pages, sizes
        for _page in iter_pages(data, limits=limits):  # pixels: truncation shows only when decoding
            pass
    except DanganError as exc:
        return [*out, Problem(USABILITY, "DECODE_FAILED", path, f"{exc.code}: {exc.message}")]
    if found.format != master.format:
        out.append(Problem(AUTHENTICITY, "FORMAT_MISMATCH", path, f"is {found.format}, catalogued {master.format}"))
    if found.page_count != master.page_count:
        out.append(
            Problem(
                AUTHENTICITY,
                "PAGE_COUNT_MISMATCH",
                path,
                f"{found.page_count} pages, catalogued {master.page_count}",
            )
        )
    for page in map(PageFacts.of, pages):
        idx = page.page_index
        meta = found.pages_meta[idx] if 0 <= idx < len(found.pages_meta) else None
        if meta is None:
            out.append(Problem(INTEGRITY, "PAGE_MISSING", path, f"page index {idx} not in the file"))
        elif page.width and (meta.get("width"), meta.get("height")) != (page.width, page.height):
            out.append(
                Problem(
                    AUTHENTICITY,
                    "PAGE_SIZE_MISMATCH",
                    path,
                    f"page {idx} is {meta.get('width')}x{meta.get('height')}, catalogued {page.width}x{page.height}",
                )
            )
    return out


def check_catalog(package: ArchivePackage, payload: set[str]) -> list[Problem]:
    """Integrity: every catalogued object is in the package, every packaged file is catalogued, no gaps."""
    out: list[Problem] = []
    catalog = package.catalog
    refs = {
        "dossiers": {d.ref for d in catalog.dossiers},
        "documents": {d.ref for d in catalog.documents},
        "masters": {m.ref for m in catalog.masters},
        "pages": {p.ref for p in catalog.pages},
    }
    listed = {m.path for m in catalog.masters} | {v.path for v in catalog.derivatives}
    listed |= {o.path for o in package.ocr if o.path}
    for path in sorted(listed - payload):
        out.append(Problem(INTEGRITY, "NOT_IN_PACKAGE", path, "catalogued but missing from the manifest"))
    for path in sorted(payload - listed - set(bag.METADATA_PATHS)):
        out.append(Problem(INTEGRITY, "NOT_CATALOGUED", path, "in the manifest but not in catalog.json"))

    def dangling(kind: str, references: list[tuple[str, str | None]], target: str, optional: bool = False) -> None:
        for key, value in references:
            if (value is None and not optional) or (value is not None and value not in refs[target]):
                out.append(Problem(INTEGRITY, "DANGLING_REFERENCE", bag.CATALOG_PATH, f"{kind} {key}={value}"))

    dangling("document", [("dossier", d.dossier) for d in catalog.documents], "dossiers")
    dangling("page", [("master", p.master) for p in catalog.pages], "masters")
    dangling("page", [("document", p.document) for p in catalog.pages], "documents")
    dangling("ocr result", [("page", o.page) for o in package.ocr], "pages")
    dangling("field", [("document", f.document) for f in package.fields], "documents")
    dangling("field", [("page", f.page) for f in package.fields], "pages", optional=True)
    by_doc: dict[str, list[int]] = defaultdict(list)
    for page in catalog.pages:
        by_doc[page.document].append(page.seq)
    for doc in catalog.documents:
        seqs = sorted(by_doc.get(doc.ref, []))
        if seqs != list(range(1, len(seqs) + 1)):
            out.append(Problem(INTEGRITY, "PAGE_GAP", bag.CATALOG_PATH, f"document {doc.ref} page seq {seqs}"))
        expected = doc.page_count  # the catalog's own count (expected_pages is the operator's claim)
        if expected and expected != len(seqs):
            out.append(
                Problem(
                    INTEGRITY, "PAGE_COUNT", bag.CATALOG_PATH, f"document {doc.ref}: {len(seqs)} of {expected} pages"
                )
            )
    return out
