"""OCR on the realistic test set (dangan/samples/realistic.py): CER and ID exact-match per degradation class.

Engines, in the same run and on the same pages (each page decoded from its PNG as ingest would):

- ``ppocr``: dangan's default: measured per-page preprocessing (``DeriveParams()``) and the engine defaults
  (page orientation on, where the engine has it);
- ``ppocr-off``: the new handling switched off: the fixed recipe of before (``DeriveParams.fixed()``: median
  filter always, no stamp/show-through suppression, no upscaling) and page orientation off;
- ``ppocr-raw``: the engine defaults on the decoded page without any preprocessing (the reference of the rule
  "preprocessing never makes a page worse": default CER <= raw CER + 0.2 percentage points on every page);
- ``tesseract``: dangan's Tesseract engine on the default derivative;
- ``rapidocr``: the ``rapidocr`` package with its own defaults (``RapidOCR()``) on the decoded page.

CER: edit distance over the page's ground-truth lines joined (NFKC, whitespace removed) / truth length.
ID exact-match: share of the resident IDs a page shows that appear verbatim in its OCR text. Seconds per page:
``prep_s`` (measure + derivative) and ``ocr_s`` (recognition, orientation included), models loaded beforehand.
Prints ONE JSON line.

    .venv/bin/python bench/realistic.py                      # 2 pages per class, a few minutes on 2 cores
    .venv/bin/python bench/realistic.py --per-class 3 --engines ppocr,ppocr-raw
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ocr import edit_distance, squash  # noqa: E402  (bench/ocr.py: the CER convention shared by benchmarks)

ENGINES = ("ppocr", "ppocr-off", "ppocr-raw", "tesseract", "rapidocr")
RULE_SLACK = 0.002  # default may be at most 0.2 percentage points worse than no preprocessing, page by page


def _ppocr(orientation: bool) -> Any:
    from dangan.ocr import OcrOptions, create_engine

    # flat keys go to the engine's own options model ([ocr.ppocr] page_orientation)
    return create_engine(OcrOptions(engine="ppocr", device="cpu", page_orientation=orientation))


def _readers(names: list[str]) -> dict[str, Any]:
    """name -> callable(image) -> text; models load here, outside the timed part."""
    from dangan.ocr import OcrOptions, create_engine

    readers: dict[str, Any] = {}
    for name in names:
        if name in ("ppocr", "ppocr-raw", "ppocr-off"):
            eng = _ppocr(orientation=name != "ppocr-off")
            readers[name] = lambda img, eng=eng: eng.recognize([img])[0].text()
        elif name == "tesseract":
            eng = create_engine(OcrOptions(engine="tesseract"))
            readers[name] = lambda img, eng=eng: eng.recognize([img])[0].text()
        elif name == "rapidocr":
            from rapidocr import RapidOCR

            raw = RapidOCR()
            readers[name] = lambda img, raw=raw: "\n".join(raw(img).txts or ())
        else:
            raise SystemExit(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    return readers


def run(per_class: int, seed: int, classes: list[str] | None, names: list[str]) -> dict[str, Any]:
    """Generate the pages, read each with every engine, return the report."""
    from dangan.imaging import DecodeLimits, DeriveParams, iter_pages, make_ocr_derivative, measure
    from dangan.samples.realistic import encode_png, generate_realistic

    t0 = time.perf_counter()
    pages = generate_realistic(seed, per_class, classes)
    generate_s = time.perf_counter() - t0
    readers = _readers(names)
    for read in readers.values():  # warm-up (first-run allocations), not timed
        read(np.full((64, 256, 3), 255, np.uint8))
    acc: dict[str, dict[str, Any]] = {n: {"err": {}, "len": {}, "ids": {}, "prep": 0.0, "ocr": 0.0} for n in names}
    id_total: dict[str, int] = {}
    per_page: list[dict[str, Any]] = []
    for page in pages:
        decoded = next(iter_pages(encode_png(page), limits=DecodeLimits()))
        rgb = decoded.image[..., ::-1].copy() if decoded.image.ndim == 3 else decoded.image
        t = time.perf_counter()
        metrics = measure(decoded)
        measure_s = time.perf_counter() - t
        inputs: dict[str, tuple[np.ndarray, float, list[str]]] = {}
        for recipe, params in (("default", DeriveParams()), ("fixed", DeriveParams.fixed())):
            t = time.perf_counter()
            d = make_ocr_derivative(decoded, metrics, params)
            inputs[recipe] = (d.image, measure_s + time.perf_counter() - t, list(d.params.get("steps", [])))
        truth = squash("".join(page.lines))
        id_total[page.klass] = id_total.get(page.klass, 0) + len(page.ids)
        row: dict[str, Any] = {"page": page.name, "steps": inputs["default"][2]}
        for name in names:
            if name in ("ppocr", "tesseract"):
                image, prep, _ = inputs["default"]
            elif name == "ppocr-off":
                image, prep, _ = inputs["fixed"]
            elif name == "rapidocr":
                image, prep = decoded.image, 0.0  # RapidOCR takes OpenCV's BGR order for arrays
            else:
                image, prep = rgb, 0.0
            t = time.perf_counter()
            hyp = squash(readers[name](image))
            a = acc[name]
            a["ocr"] += time.perf_counter() - t
            a["prep"] += prep
            errors = edit_distance(truth, hyp)
            a["err"][page.klass] = a["err"].get(page.klass, 0) + errors
            a["len"][page.klass] = a["len"].get(page.klass, 0) + len(truth)
            a["ids"][page.klass] = a["ids"].get(page.klass, 0) + sum(1 for i in page.ids if i in hyp)
            row[name] = round(errors / max(len(truth), 1), 4)
        per_page.append(row)
    report: dict[str, Any] = {
        "bench": "realistic", "cpus": os.cpu_count(), "seed": seed, "per_class": per_class, "pages": len(pages),
        "generate_s": round(generate_s, 2),
    }  # fmt: skip
    for name in names:
        a = acc[name]
        cer = {k: round(a["err"][k] / max(a["len"][k], 1), 4) for k in a["err"]}
        cer["all"] = round(sum(a["err"].values()) / max(sum(a["len"].values()), 1), 4)
        ids = {k: round(a["ids"][k] / id_total[k], 4) for k in a["ids"] if id_total.get(k)}
        ids["all"] = round(sum(a["ids"].values()) / max(sum(id_total.values()), 1), 4)
        n = max(len(pages), 1)
        report[name] = {
            "cer": cer, "id_exact": ids, "prep_s_per_page": round(a["prep"] / n, 3),
            "ocr_s_per_page": round(a["ocr"] / n, 3), "s_per_page": round((a["prep"] + a["ocr"]) / n, 3),
        }  # fmt: skip
    if "ppocr" in names and "ppocr-raw" in names:
        worse = [
            {"page": r["page"], "default": r["ppocr"], "raw": r["ppocr-raw"], "steps": r["steps"]}
            for r in per_page
            if r["ppocr"] > r["ppocr-raw"] + RULE_SLACK
        ]
        report["never_worse_rule"] = {"slack": RULE_SLACK, "pages": len(per_page), "violations": worse}
    report["per_page"] = per_page
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=2, help="pages per degradation class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classes", default="", help="comma list (default: every class)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma list of {', '.join(ENGINES)}")
    args = parser.parse_args(argv)
    classes = [c for c in args.classes.split(",") if c] or None
    names = [n for n in args.engines.split(",") if n]
    print(json.dumps(run(args.per_class, args.seed, classes, names), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
