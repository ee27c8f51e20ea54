"""Many-page files built in milliseconds, and a child process that ingests a folder under a memory cap.

``blank_tiff`` writes N IFDs that share one uncompressed white strip, so 2,000 A4 pages at 300 dpi take about
1.1 MB on disk (the shape of the file in issue 19) while each page still decodes to 8.7 million pixels.
``blank_pdf`` writes N empty pages of one size. Used by tests/ingest/test_multipage_memory.py and
bench/multipage_memory.py::

    python -m tests.ingest.multipage SOURCE DATA_DIR --headroom-mb 1024 [--max-pages 2000] [--no-derivatives]

prints one JSON line: the batch report's essentials, the batch status and the child's peak RSS. The memory cap
(RLIMIT_AS) is set after the imports, at the address space they took plus ``--headroom-mb``: numpy, OpenCV and
pdfium reserve ~0.55 GB of address space here, more on machines with more cores (thread pools), so a fixed cap
would measure the machine rather than ingest.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import sys
from pathlib import Path
from typing import Any

from tests.imaging.synth import build_pdf

A4_300DPI = (2480, 3508)
A4_PT = (595.0, 842.0)


def blank_tiff(pages: int, size: tuple[int, int] = A4_300DPI, dpi: int = 300) -> bytes:
    """A little-endian bilevel TIFF of ``pages`` white pages whose IFDs all point at one shared strip."""
    width, height = size
    strip = bytes(((width + 7) // 8) * height)  # WhiteIsZero: all-zero bits are white paper
    header = struct.pack("<2sHI", b"II", 42, 0)  # first-IFD offset patched below
    rational_at = len(header)  # XResolution and YResolution share one RATIONAL value: dpi/1
    rational = struct.pack("<II", dpi, 1)
    strip_at = rational_at + len(rational)
    ifd_at = strip_at + len(strip)
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 1),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 0),  # Photometric: WhiteIsZero
        (273, 4, 1, strip_at),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, len(strip)),  # StripByteCounts
        (282, 5, 1, rational_at),  # XResolution, RATIONAL (offset)
        (283, 5, 1, rational_at),  # YResolution
        (296, 3, 1, 2),  # ResolutionUnit: inch
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    out = bytearray(header) + rational + strip
    for i in range(pages):
        next_at = ifd_at + (i + 1) * ifd_size if i + 1 < pages else 0
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, count) + packed
        out += struct.pack("<I", next_at)
    out[4:8] = struct.pack("<I", ifd_at)
    return bytes(out)


def blank_pdf(pages: int, size_pt: tuple[float, float] = A4_PT) -> bytes:
    """A PDF of ``pages`` empty pages of ``size_pt`` (points)."""
    first_page = 3
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    box = b"[0 0 %.2f %.2f]" % size_pt
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox " + box + b" >>"] * pages
    return build_pdf(objects)


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _address_space() -> int:
    """Bytes of address space this process has now (VmSize)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _child(argv: list[str]) -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("data_dir")
    ap.add_argument("--headroom-mb", type=int, default=0, help="RLIMIT_AS above the address space after imports")
    ap.add_argument("--max-pages", type=int, default=None)
    ap.add_argument("--no-derivatives", action="store_true")
    args = ap.parse_args(argv)
    # imports first, so the cap measures ingest and not the libraries' own address space reservations
    from sqlalchemy import select

    from dangan.catalog.db import session_scope
    from dangan.catalog.models import ScanBatch
    from dangan.catalog.sites import add_site
    from dangan.config import load_settings
    from dangan.ingest.batch import ingest_batch_local

    settings = load_settings(data_dir=Path(args.data_dir))
    if args.max_pages:
        settings.ingest.max_pages = args.max_pages
    settings.ingest.make_derivatives = not args.no_derivatives
    ref = add_site(settings, "330106", "杭州市西湖区")
    before = peak_rss_mb()
    if args.headroom_mb:
        cap = _address_space() + args.headroom_mb * 1024**2
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    report = ingest_batch_local(settings, "330106", args.source)
    with session_scope(ref.catalog_url) as s:
        status = s.scalars(select(ScanBatch.status)).one()
    return {
        "status": status,
        "files": report.files,
        "accepted_files": report.accepted_files,
        "pages": report.pages,
        "quarantined": {q.file: q.code for q in report.quarantined},
        "unaccounted": report.unaccounted,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1:])))
