"""OCR benchmark on generated pages with ground truth: accuracy and speed of ``ppocr`` vs ``tesseract``.

Per engine (each in a child process, so its peak RSS is its own): character error rate (whitespace removed,
NFKC on both sides) on clean and degraded pages, by dpi; resident-ID exact-match rate (every valid
18-character ID in a page's ground truth must appear verbatim in that page's OCR text); pages/s of
recognition on decoded pages (decode timed separately, model loading and one warm-up page excluded); peak
RSS. OCRmyPDF (what users would otherwise run) is measured on the same pages when ``ocrmypdf`` is on PATH: one
call on them as one image-only PDF, its defaults, start-up included. Prints ONE JSON line with the ratios of
ppocr to tesseract (and to OCRmyPDF) from the same run.

Two Tesseract figures: ``tesseract`` is dangan's engine (one single-threaded Tesseract per page, pages side by
side: the cheapest way to run it), ``tesseract-omp`` is pytesseract as usually called (a page at a time,
Tesseract's OpenMP threads). For ppocr the model time of detection and recognition is reported separately
(``stages_s_per_page``), with the padded width of all line crops fed to recognition.

    .venv/bin/python bench/ocr.py                       # 12 pages, a few minutes on 2 cores
    .venv/bin/python bench/ocr.py --det-limit 1600 --rec-min-width 320   # PP-OCR's reference settings
    .venv/bin/python bench/ocr.py --pages 24 --clean-only

The ppocr settings are the engine defaults: the tuned CPU profile (detection at 1280 px, crops padded to 160 px).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_ID = re.compile(r"\d{17}[\dX]")


def squash(text: str) -> str:
    """NFKC, then every whitespace character removed (the CER convention of this benchmark)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance, one numpy row per reference character."""
    if not ref or not hyp:
        return max(len(ref), len(hyp))
    h = np.frombuffer(hyp.encode("utf-32-le"), dtype=np.uint32)
    r = np.frombuffer(ref.encode("utf-32-le"), dtype=np.uint32)
    idx = np.arange(len(hyp) + 1)
    prev = idx.copy()
    for i, ch in enumerate(r, start=1):
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (h != ch))
        prev = np.minimum.accumulate(tmp - idx) + idx  # folds in insertions (cur[j-1] + 1)
    return int(prev[-1])


def page_ids(text: str) -> list[str]:
    """Valid resident IDs (GB 11643 check character) in ``text``."""
    from dangan.ids import check_char

    return sorted({m for m in _ID.findall(text) if check_char(m[:17]) == m[17]})


def load_pages(samples: Path, limit: int) -> list[dict[str, Any]]:
    """Decoded pages (RGB or gray uint8) with ground truth, manifest order, at most ``limit``."""
    import csv

    from dangan.imaging.decode import DecodeLimits, iter_pages

    pages: list[dict[str, Any]] = []
    with (samples / "manifest.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        truth = json.loads((samples / "ground_truth" / f"{Path(row['file']).stem}.json").read_text("utf-8"))
        data = (samples / "scans" / row["file"]).read_bytes()
        for decoded, gt in zip(iter_pages(data, limits=DecodeLimits()), truth["pages"], strict=True):
            image = decoded.image if decoded.image.ndim == 2 else np.ascontiguousarray(decoded.image[:, :, ::-1])
            text = squash("".join(gt["lines"]))
            pages.append({
                "file": row["file"], "page": gt["page"], "dpi": gt["dpi"], "image": image, "truth": text,
                "clean": not gt["degradations"], "ids": page_ids(text),
            })  # fmt: skip
            if len(pages) >= limit:
                return pages
    return pages


def score(pages: list[dict[str, Any]], texts: list[str]) -> dict[str, Any]:
    """CER (overall, clean/degraded, by dpi) and ID exact-match over pages with their OCR ``texts``."""
    groups: dict[str, list[int]] = {"all": [0, 0]}
    ids_found = ids_total = 0
    for page, text in zip(pages, texts, strict=True):
        hyp = squash(text)
        errors, length = edit_distance(page["truth"], hyp), len(page["truth"])
        kind = "clean" if page["clean"] else "degraded"
        for key in ("all", kind, f"{kind}_{page['dpi']}dpi"):
            acc = groups.setdefault(key, [0, 0])
            acc[0] += errors
            acc[1] += length
        ids_total += len(page["ids"])
        ids_found += sum(1 for i in page["ids"] if i in hyp)
    cer = {k: round(e / max(n, 1), 4) for k, (e, n) in sorted(groups.items())}
    return {"cer": cer, "id_exact": round(ids_found / max(ids_total, 1), 4), "ids": ids_total}


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (Tesseract runs as child processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class _TimedSession:
    """An onnxruntime session proxy that adds up the seconds (and input columns) of its ``run`` calls."""

    def __init__(self, session: Any) -> None:
        self.session, self.seconds, self.columns = session, 0.0, 0

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> Any:
        batch = next(iter(feed.values()))
        t0 = time.perf_counter()
        try:
            return self.session.run(outputs, feed)
        finally:
            self.seconds += time.perf_counter() - t0
            self.columns += batch.shape[0] * batch.shape[3]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def _pytesseract_as_usual(eng: Any) -> None:
    """Make ``eng`` read pages the way pytesseract is usually called: one page at a time, Tesseract's own
    OpenMP threading (this is how the issue's first Tesseract figure was taken)."""
    from PIL import Image

    from dangan.ocr.engines.layout import reading_order
    from dangan.ocr.engines.tesseract import estimate_dpi, group_lines

    def read(rgb: np.ndarray) -> list[Any]:
        h, w = rgb.shape[:2]
        config = f"--psm {eng.psm} --dpi {estimate_dpi(w, h)}"
        data = eng._pt.image_to_data(Image.fromarray(rgb), lang=eng.lang, config=config, output_type="dict")
        return reading_order(group_lines(data, eng.min_confidence))

    eng.workers, eng._read = 1, read


def child(engine: str, samples: Path, limit: int, opts: dict[str, Any]) -> dict[str, Any]:
    """Measure one engine in this process (``tesseract-omp``: Tesseract run as pytesseract users run it)."""
    from dangan.ocr import OcrOptions, create_engine

    t0 = time.perf_counter()
    pages = load_pages(samples, limit)
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng: Any = create_engine(OcrOptions(engine=engine.removesuffix("-omp"), **opts))
    if engine == "tesseract-omp":
        _pytesseract_as_usual(eng)
    timed = {}
    if engine == "ppocr":  # stage split: model time of detection and recognition, the rest is Python + OpenCV
        timed = {"det": _TimedSession(eng.detector.session), "rec": _TimedSession(eng.recognizer.session)}
        eng.detector.session, eng.recognizer.session = timed["det"], timed["rec"]
    eng.recognize([pages[0]["image"][:800]])  # warm-up (first-run allocations), not timed
    load_s = time.perf_counter() - t0
    for t in timed.values():
        t.seconds, t.columns = 0.0, 0
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    results = eng.recognize([p["image"] for p in pages])
    ocr_s, cpu_s = time.perf_counter() - t0, _cpu_seconds() - cpu0
    failed = [r.error for r in results if r.error]
    stages = {}
    if timed:
        n = len(pages)
        stages = {"stages_s_per_page": {
            "det_model": round(timed["det"].seconds / n, 3), "rec_model": round(timed["rec"].seconds / n, 3),
            "other": round((ocr_s - timed["det"].seconds - timed["rec"].seconds) / n, 3),
        }, "rec_columns_per_page": round(timed["rec"].columns / n)}  # fmt: skip
    return {
        "identity": {k: getattr(eng.identity(), k) for k in ("model", "device")}, "options": opts, "pages": len(pages),
        "failed": len(failed), "pages_per_s": round(len(pages) / ocr_s, 3), "ocr_s": round(ocr_s, 2),
        "cpu_s_per_page": round(cpu_s / len(pages), 2),
        "load_s": round(load_s, 2), "decode_s": round(decode_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **stages, **score(pages, [r.text() for r in results]),
    }  # fmt: skip


def _ocrmypdf_input(pages: list[dict[str, Any]], path: Path) -> None:
    """The pages as one image-only PDF (lossless PNG, each page sized by its dpi): a scanned document."""
    import io

    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pageCompression=1)
    for page in pages:
        height, width = page["image"].shape[:2]
        size = (width * 72 / page["dpi"], height * 72 / page["dpi"])
        buf = io.BytesIO()
        Image.fromarray(page["image"]).save(buf, "PNG", compress_level=1)
        pdf.setPageSize(size)
        pdf.drawImage(ImageReader(buf), 0, 0, width=size[0], height=size[1])
        pdf.showPage()
    pdf.save()


def _pdfa_of(data: bytes) -> tuple[str | None, bool | None]:
    """The PDF/A level a PDF claims and whether pikepdf's validator approves it (None: cannot tell here)."""
    try:
        from dangan.ocr.output.pdfa import pdfa_conformance, validate

        claim = pdfa_conformance(data)
    except ImportError:
        return None, None
    findings = validate(data) if claim == "PDF/A-2B" else None
    return claim, None if findings is None else not findings


def ocrmypdf(samples: Path, limit: int) -> dict[str, Any]:
    """OCRmyPDF (Tesseract inside, chi_sim) on the same pages, as users run it: one call on the whole document.

    The pages go in as one image-only PDF (building it is not timed); OCRmyPDF runs its defaults (a job per
    core, Tesseract's automatic page segmentation, PDF/A output) and writes the text per page to a sidecar file
    (pages split by form feeds). Timed: the whole command, its start-up included; CPU: all its processes.
    """
    exe = shutil.which("ocrmypdf")
    if exe is None:
        return {"skipped": "ocrmypdf not installed"}
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    t0 = time.perf_counter()
    pages = load_pages(samples, limit)
    decode_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        src, out, txt = (Path(tmp) / name for name in ("in.pdf", "out.pdf", "out.txt"))
        t0 = time.perf_counter()
        _ocrmypdf_input(pages, src)
        prepare_s = time.perf_counter() - t0
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        proc = subprocess.run(
            [exe, "-l", "chi_sim", "--sidecar", str(txt), str(src), str(out)], capture_output=True, text=True
        )
        seconds, cpu_s = time.perf_counter() - t0, _cpu_seconds() - cpu0
        if proc.returncode != 0 or not txt.exists():
            return {"version": version, "error": proc.stderr.strip().splitlines()[-3:] or [f"exit {proc.returncode}"]}
        texts = txt.read_text("utf-8").split("\f")
        claim, approved = _pdfa_of(out.read_bytes())
    texts = (texts + [""] * len(pages))[: len(pages)]
    return {
        "version": version, "pages": len(pages), "pages_per_s": round(len(pages) / seconds, 3),
        "ocr_s": round(seconds, 2), "cpu_s_per_page": round(cpu_s / len(pages), 2),
        "decode_s": round(decode_s, 2), "prepare_s": round(prepare_s, 2),
        "output_pdfa": claim, "output_pdfa_validated": approved,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        **score(pages, texts),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Generate pages, measure each engine in a child process, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--clean-only", action="store_true", help="no scanner degradations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--det-limit",
        type=int,
        default=1280,
        help="ppocr det_limit_side_len (engine default 1280; PP-OCR reference 1600)",
    )
    parser.add_argument("--threads", type=int, default=0, help="ppocr onnxruntime threads (0 = all cores)")
    parser.add_argument("--rec-batch", type=int, default=16, help="ppocr line crops per recognition run")
    parser.add_argument("--rec-min-width", type=int, default=160, help="ppocr crop padding floor (PP-OCR: 320)")
    parser.add_argument(
        "--engines",
        default="ppocr,tesseract,tesseract-omp",
        help="comma list; ppocr-default = ppocr with the engine's defaults; tesseract-omp = pytesseract as usually run",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--opts", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "ocrmypdf":  # its own process too: RUSAGE_CHILDREN then counts OCRmyPDF's processes only
        print(json.dumps(ocrmypdf(args.samples, args.pages), ensure_ascii=False))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.samples, args.pages, json.loads(args.opts)), ensure_ascii=False))
        return 0
    from dangan.samples import generate_samples

    ppocr_opts = {"det_limit_side_len": args.det_limit, "threads": args.threads, "rec_batch": args.rec_batch,
                  "rec_min_width": args.rec_min_width, "device": "cpu"}  # fmt: skip
    report: dict[str, Any] = {"bench": "ocr", "cpus": os.cpu_count(), "clean_only": args.clean_only}
    with tempfile.TemporaryDirectory(prefix="dangan-ocr-bench-") as tmp:
        persons = max(1, -(-args.pages // 4))  # about 4 pages per person
        generate_samples(Path(tmp), persons, seed=args.seed, degrade=not args.clean_only, bad_files=False)
        profiles = {"ppocr": ("ppocr", ppocr_opts), "ppocr-default": ("ppocr", {"device": "cpu"})}
        for name in args.engines.split(","):
            engine, opts = profiles.get(name, (name, {}))
            cmd = [sys.executable, __file__, "--child", engine, "--samples", tmp, "--pages", str(args.pages),
                   "--opts", json.dumps(opts)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                report[name] = {"error": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]}
                continue
            report[name] = json.loads(out.stdout.strip().splitlines()[-1])
        if shutil.which("ocrmypdf") is None:
            report["ocrmypdf"] = {"skipped": "ocrmypdf not installed"}
        else:
            cmd = [sys.executable, __file__, "--child", "ocrmypdf", "--samples", tmp, "--pages", str(args.pages)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            ok = out.returncode == 0 and out.stdout.strip()
            report["ocrmypdf"] = (
                json.loads(out.stdout.strip().splitlines()[-1])
                if ok
                else {"error": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]}
            )
    pp, ts = report.get("ppocr", {}), report.get("tesseract", {})
    if "pages_per_s" in pp and "pages_per_s" in ts:
        report["ppocr_vs_tesseract"] = {
            "speed_x": round(pp["pages_per_s"] / ts["pages_per_s"], 2),
            "cpu_per_page_x": round(ts["cpu_s_per_page"] / pp["cpu_s_per_page"], 2),
            "cer_all": [pp["cer"]["all"], ts["cer"]["all"]],
            "id_exact": [pp["id_exact"], ts["id_exact"]],
        }
    omp = report.get("tesseract-omp", {})
    if "pages_per_s" in pp and "pages_per_s" in omp:
        report["ppocr_vs_tesseract_omp"] = {
            "speed_x": round(pp["pages_per_s"] / omp["pages_per_s"], 2),
            "cpu_per_page_x": round(omp["cpu_s_per_page"] / pp["cpu_s_per_page"], 2),
        }
    om = report.get("ocrmypdf", {})
    if "pages_per_s" in pp and "pages_per_s" in om:
        report["ppocr_vs_ocrmypdf"] = {
            "speed_x": round(pp["pages_per_s"] / om["pages_per_s"], 2),
            "cpu_per_page_x": round(om["cpu_s_per_page"] / pp["cpu_s_per_page"], 2),
            "cer_all": [pp["cer"]["all"], om["cer"]["all"]],
            "id_exact": [pp["id_exact"], om["id_exact"]],
        }
    if "pages_per_s" in report.get("ppocr-default", {}) and "pages_per_s" in ts:
        report["ppocr_default_vs_tesseract_speed_x"] = round(
            report["ppocr-default"]["pages_per_s"] / ts["pages_per_s"], 2
        )
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
