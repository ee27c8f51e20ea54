"""Benchmark: the receiver's active-PDF check on dangan's searchable PDFs and on a PDF built to exhaust it.

    .venv/bin/python bench/pdf_active.py [--pdfs 40] [--size 1100x800]

Builds ``--pdfs`` searchable PDFs the way the OCR stage does (noise JPEG pages, PDF/A-2b), then reports how
many the former byte search (``/JS`` etc. anywhere in the file) refused, how many the object-graph check
refuses (should be 0), the check's time per PDF, and the time to reach the walk's budget on a PDF with a
million-number array and 300,000 small objects. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pikepdf
from PIL import Image

from dangan.imaging.pdf_active import scan_pdf
from dangan.ocr import OcrLine, PageResult
from dangan.ocr.output.render import searchable_pdf

OLD_REGEX = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA)\b")


def ocr_pdf(seed: int, size: tuple[int, int]) -> bytes:
    rng = random.Random(seed)
    img = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    line = OcrLine("姓名 张三", 0.9, ((10, 20), (410, 20), (410, 70), (10, 70)))
    result = PageResult([line], "ppocr", "m", {}, "cpu", 0.1, size[0], size[1])
    return searchable_pdf([(buf.getvalue(), result, 300.0)] * 2)


def huge() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.Big = pdf.make_indirect(pikepdf.Array(list(range(1_000_000))))
    pdf.Root.Many = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(N=i)) for i in range(300_000)])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdfs", type=int, default=40)
    ap.add_argument("--size", default="1100x800")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    old = new = 0
    times, sizes = [], []
    for seed in range(args.pdfs):
        data = ocr_pdf(seed, size)  # type: ignore[arg-type]
        sizes.append(len(data))
        old += bool(OLD_REGEX.search(data))
        t0 = time.perf_counter()
        new += bool(scan_pdf(data))
        times.append(time.perf_counter() - t0)
    big = huge()
    t0 = time.perf_counter()
    codes = [f.code for f in scan_pdf(big)]
    hostile_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "bench": "pdf_active",
                "pdfs": args.pdfs,
                "mean_pdf_bytes": round(statistics.mean(sizes)),
                "old_regex_refused": old,
                "graph_check_refused": new,
                "scan_ms_median": round(statistics.median(times) * 1000, 2),
                "scan_ms_max": round(max(times) * 1000, 2),
                "hostile_pdf_bytes": len(big),
                "hostile_codes": codes,
                "hostile_scan_s": round(hostile_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
