"""Peak memory of ingesting one multi-page TIFF / PDF, by page count: the bound stated as a ratio.

Each (format, pages) runs the real ingest (decode, QA, catalog, master object; derivatives with
``--derivatives``) in a fresh child process, so its peak RSS (ru_maxrss) is its own. Pages are blank A4 at
``--dpi`` (TIFF: bilevel, IFDs sharing one strip; PDF: empty pages rendered at ``--dpi``), which keeps the files
tiny while every page still decodes to full size. Prints ONE JSON line::

    .venv/bin/python bench/multipage_memory.py                      # 1, 10, 100, 500 pages at 150 dpi
    .venv/bin/python bench/multipage_memory.py --pages 1 10 100 --dpi 300 --derivatives

``ratio_to_1_page`` near 1.0 at every count is the claim: memory is flat in the page count (before, every
decoded page was held until the file was registered, ~8.7 MB per A4 page at 300 dpi).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _one(fmt: str, pages: int, dpi: int, derivatives: bool, workdir: Path) -> dict[str, Any]:
    from tests.ingest.multipage import blank_pdf, blank_tiff

    src = workdir / f"{fmt}-{pages}" / "src"
    src.mkdir(parents=True)
    size = (round(8.27 * dpi), round(11.69 * dpi))
    data = blank_tiff(pages, size, dpi) if fmt == "tiff" else blank_pdf(pages)
    (src / f"doc.{'tif' if fmt == 'tiff' else 'pdf'}").write_bytes(data)
    cmd = [sys.executable, "-m", "tests.ingest.multipage", str(src), str(src.parent / "data"), "--max-pages", "2000"]
    if not derivatives:
        cmd.append("--no-derivatives")
    env = {**os.environ, "DANGAN_INGEST__PDF_RENDER_DPI": str(dpi)}  # PDF pages render at the same dpi
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{fmt} {pages} pages failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["pages"] != pages:
        raise SystemExit(f"{fmt} {pages} pages: ingested {out['pages']} pages: {out}")
    return {
        "format": fmt,
        "pages": pages,
        "file_bytes": len(data),
        "peak_rss_mb": out["peak_rss_mb"],
        "rss_after_imports_mb": out["rss_before_mb"],
        "seconds": round(time.perf_counter() - t, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[1, 10, 100, 500])
    ap.add_argument("--formats", nargs="+", default=["tiff", "pdf"], choices=["tiff", "pdf"])
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--derivatives", action="store_true", help="also make OCR derivatives (second decode pass)")
    args = ap.parse_args()
    counts = sorted(set(args.pages) | {1})
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-multipage-") as tmp:
        for fmt in args.formats:
            for n in counts:
                rows.append(_one(fmt, n, args.dpi, args.derivatives, Path(tmp)))
    single = {r["format"]: r["peak_rss_mb"] for r in rows if r["pages"] == 1}
    for r in rows:
        r["ratio_to_1_page"] = round(r["peak_rss_mb"] / single[r["format"]], 2)
    page_mb = round(8.27 * args.dpi) * round(11.69 * args.dpi) / 1024**2  # one gray page
    print(
        json.dumps(
            {
                "bench": "multipage_memory",
                "dpi": args.dpi,
                "derivatives": args.derivatives,
                "gray_page_mb": round(page_mb, 1),
                "max_ratio_to_1_page": max(r["ratio_to_1_page"] for r in rows),
                "runs": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
