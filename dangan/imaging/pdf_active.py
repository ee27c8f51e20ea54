"""Active content in a PDF, found by walking its object graph (never by searching its bytes).

A scanned archive page has no business running code, opening other files or carrying attachments, so the
receiver of a transfer (and ingest, if it wants) refuses PDFs with any of: JavaScript (``/JS``, JavaScript
actions, the ``/JavaScript`` name tree, 3D JavaScript), Launch / GoToR / GoToE / ImportData / SubmitForm /
Rendition / RichMediaExecute / Movie / Sound actions, embedded files (``/EmbeddedFiles``, ``/EF``, file
attachment annotations), RichMedia, XFA forms, and URI actions whose target is not ``http(s)://``. Actions are
found wherever they hang: ``/OpenAction``, ``/AA`` (document, page, annotation and field additional actions),
annotation ``/A``, chained ``/Next`` actions, name trees; each finding says which feature, reached how, and in
which object (``"OpenAction JavaScript at object 12"``).

Why a parser: a regular expression over the raw bytes finds ``/JS`` inside compressed image data (every
large enough JPEG or Flate stream contains it by chance, so dangan's own searchable PDFs were refused) and
misses actions hidden in compressed object streams. qpdf (through pikepdf) parses the file, including object
streams and damaged cross-reference tables; the walk starts at the trailer and only looks at dictionary keys
and values, never at stream data. What a reader acts on is reachable from the trailer, so unreachable objects
are not examined.

A hostile file may hold millions of objects or reference cycles: every indirect object is visited once and
the walk stops after ``max_objects`` containers (dictionaries, arrays, streams) or ``max_elements`` entries,
which is a finding of its own (``PDF_TOO_COMPLEX``); a file qpdf cannot open (damaged beyond repair, or
needing a password) is ``PDF_UNREADABLE``. Neither raises: the caller decides what a finding means.
Messages name features, PDF keys and object numbers only, never text or strings from the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIVE_PDF_CONTENT",
    "DEFAULT_MAX_ELEMENTS",
    "DEFAULT_MAX_OBJECTS",
    "PDF_TOO_COMPLEX",
    "PDF_UNREADABLE",
    "PdfFinding",
    "scan_pdf",
]

ACTIVE_PDF_CONTENT = "ACTIVE_PDF_CONTENT"
PDF_UNREADABLE = "PDF_UNREADABLE"
PDF_TOO_COMPLEX = "PDF_TOO_COMPLEX"

#: Containers visited at most. A 1000-page scanner PDF needs about 10 a page; dangan's searchable PDFs a few
#: hundred in all (the CID font's width arrays are the bulk).
DEFAULT_MAX_OBJECTS = 200_000
#: Dictionary entries and array items looked at, at most (a single array may hold millions of numbers).
DEFAULT_MAX_ELEMENTS = 2_000_000
#: Findings listed per file; the rest are counted in one more finding.
MAX_LISTED = 20

#: Action types (``/S``) that run code, open or fetch other files, send data or play media.
_ACTIONS = {
    "/JavaScript": "JavaScript",
    "/Launch": "Launch",
    "/GoToR": "GoToR (remote document)",
    "/GoToE": "GoToE (embedded document)",
    "/ImportData": "ImportData",
    "/SubmitForm": "SubmitForm",
    "/Rendition": "Rendition",
    "/RichMediaExecute": "RichMediaExecute",
    "/Movie": "Movie",
    "/Sound": "Sound",
}
#: Keys that mark a feature wherever they occur, whatever their value.
_KEYS = {
    "/JS": "JavaScript",
    "/EmbeddedFiles": "embedded files",
    "/EF": "embedded file",
    "/XFA": "XFA form",
    "/RichMediaContent": "RichMedia",
    "/RichMediaSettings": "RichMedia",
    "/OnInstantiate": "3D JavaScript",
}
_SUBTYPES = {"/RichMedia": "RichMedia", "/FileAttachment": "file attachment annotation"}
#: Keys through which actions are triggered: a finding below one is labelled with it.
_TRIGGERS = {"/OpenAction": "OpenAction", "/AA": "AA", "/A": "A", "/JavaScript": "JavaScript name tree"}
#: Keys below a trigger that still belong to it (action chains, name tree nodes, AA events).
_CHAIN = {"/Next", "/Kids", "/Names"}
_SAFE_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class PdfFinding:
    """One reason to refuse a PDF: a stable ``code``, the ``feature`` and the object it was found in (0: none)."""

    code: str
    feature: str
    obj: int
    message: str


class _TooComplex(Exception):
    """The walk's budget is spent."""


def _where(obj: int) -> str:
    return f"at object {obj}" if obj else "in the trailer"


def _uri_feature(uri: Any) -> str | None:
    """What is wrong with a URI action's target (only the scheme is named: a URI may carry personal data)."""
    try:
        text = bytes(uri).decode("latin-1").strip().lower()
    except (TypeError, ValueError):
        return "URI that is not a string"
    if text.startswith(_SAFE_SCHEMES):
        return None
    scheme, colon, _ = text.partition(":")
    if colon and scheme and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum() and len(scheme) < 20:
        return f"URI with {scheme}: scheme"
    return "URI without an http(s) scheme"


def _holder(d: dict[str, Any]) -> str:
    """A short name for the dictionary a trigger hangs on (``Page``, ``Link annotation``, ``Catalog``)."""
    kind = str(d["/Type"]) if "/Type" in d else ""
    sub = str(d["/Subtype"]) if "/Subtype" in d else ""
    if kind == "/Annot" or (sub and "/Rect" in d):
        return f"{sub[1:] or 'unknown'} annotation"
    if "/FT" in d:
        return "form field"
    return kind[1:]


class _Walk:
    def __init__(self, max_objects: int, max_elements: int) -> None:
        import pikepdf

        self.pikepdf = pikepdf
        self.max_objects, self.max_elements = max_objects, max_elements
        self.containers = self.elements = 0
        self.seen: set[tuple[int, int]] = set()
        self.found: dict[tuple[str, int], PdfFinding] = {}
        self.more = 0
        self.kinds: set[Any] = set()

    def add(self, feature: str, obj: int, label: str | None) -> None:
        key = (feature, obj)
        if key in self.found:
            return
        if len(self.found) >= MAX_LISTED:
            self.more += 1
            return
        text = f"{label} {feature}" if label else feature
        self.found[key] = PdfFinding(ACTIVE_PDF_CONTENT, feature, obj, f"{text} {_where(obj)}")

    def container(self, value: Any) -> bool:
        """A dictionary, array or stream (pikepdf hands scalars back as Python values, so most checks end early)."""
        return type(value) is self.pikepdf.Object and value._type_code in self.kinds

    def run(self, root: Any) -> None:
        OT = self.pikepdf.ObjectType
        self.kinds = {OT.dictionary, OT.array, OT.stream}
        # (object, number of the indirect object holding it, trigger label, is an /AA event dictionary)
        stack: list[tuple[Any, int, str | None, bool]] = [(root, 0, None, False)]
        while stack:
            obj, num, label, events = stack.pop()
            if obj.is_indirect:
                og = obj.objgen
                if og in self.seen:
                    continue
                self.seen.add(og)
                num = og[0]
            self.containers += 1
            if self.containers > self.max_objects:
                raise _TooComplex(f"more than {self.max_objects} objects")
            if obj._type_code == OT.array:
                self.elements += len(obj)
                if self.elements > self.max_elements:
                    raise _TooComplex(f"more than {self.max_elements} entries")
                stack.extend((item, num, label, False) for item in obj if self.container(item))
                continue
            entries = dict(obj.items())  # a stream's dictionary; the stream data is never read
            self.elements += len(entries)
            if self.elements > self.max_elements:
                raise _TooComplex(f"more than {self.max_elements} entries")
            self.inspect(entries, num, label)
            holder: str | None = None
            for key, value in entries.items():
                if not self.container(value):
                    continue
                below: str | None = None
                if key == "/OpenAction":
                    below = "OpenAction"
                elif key == "/JavaScript":
                    below = "Names JavaScript"
                elif key in _TRIGGERS:
                    holder = _holder(entries) if holder is None else holder
                    below = f"{holder} {_TRIGGERS[key]}".strip()
                elif key in _CHAIN or events:
                    below = label
                stack.append((value, num, below, key == "/AA"))

    def inspect(self, d: dict[str, Any], num: int, label: str | None) -> None:
        """Findings of one dictionary (or stream dictionary) from its keys and a few name values."""
        action = str(d["/S"]) if "/S" in d else ""
        if action in _ACTIONS:
            self.add(_ACTIONS[action], num, label)
        elif action == "/URI" and "/URI" in d and (why := _uri_feature(d["/URI"])) is not None:
            self.add(why, num, label)
        for key in d.keys() & _KEYS.keys():
            if key == "/JS" and action == "/JavaScript":
                continue  # one finding for one JavaScript action
            self.add(_KEYS[key], num, label)
        if "/JavaScript" in d and self.container(d["/JavaScript"]):
            self.add("JavaScript name tree", num, "Names")
        if "/Subtype" in d and (sub := str(d["/Subtype"])) in _SUBTYPES:
            self.add(_SUBTYPES[sub], num, label)


def scan_pdf(
    data: bytes, *, max_objects: int = DEFAULT_MAX_OBJECTS, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> list[PdfFinding]:
    """Everything active in the PDF ``data`` (empty: none found), or why it could not be examined.

    Never raises for a bad file: an unreadable one is one ``PDF_UNREADABLE`` finding, a walk over budget
    ``PDF_TOO_COMPLEX`` after the findings made so far. Needs the ``pikepdf`` package.
    """
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        return [PdfFinding(PDF_UNREADABLE, "encryption", 0, "PDF needs a password to open: content not examined")]
    except Exception as exc:  # qpdf refuses what it cannot repair; the type is enough (messages quote the file)
        return [PdfFinding(PDF_UNREADABLE, "structure", 0, f"PDF cannot be parsed ({type(exc).__name__})")]
    walk = _Walk(max_objects, max_elements)
    tail: list[PdfFinding] = []
    with pdf:
        try:
            walk.run(pdf.trailer)
        except _TooComplex as exc:
            tail.append(PdfFinding(PDF_TOO_COMPLEX, "size", 0, f"PDF walk stopped: {exc}; content not fully examined"))
        except Exception as exc:  # a damaged object qpdf could not resolve while walking
            tail.append(
                PdfFinding(PDF_UNREADABLE, "structure", 0, f"PDF object graph unreadable ({type(exc).__name__})")
            )
    found = list(walk.found.values())
    if walk.more:
        found.append(PdfFinding(ACTIVE_PDF_CONTENT, "more", 0, f"{walk.more} more active features not listed"))
    return found + tail
