"""Benchmark: extraction accuracy and validation catch rate on generated scans with ground truth.

    .venv/bin/python bench/extract.py [--persons 4] [--seed 1] [--engine ppocr] [--truth-ocr]

Generates sample documents (degraded scans), OCRs each page on its OCR derivative, extracts fields and
compares them with the ground truth: per-field precision, recall and exact match, contribution cells. Then
validates the extracted records (person identity from the manifest, as the catalog would have it) and reports
the share of wrong values the suites catch, the false-alarm share, and whether every deliberately corrupted
ID (one digit changed) is flagged. Prints one JSON line. ``--truth-ocr`` replaces OCR with the renderer's own
text boxes (tests the extractor alone, in seconds).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dangan.extract import extract_document
from dangan.extract.model import CONTRIBUTION_COLUMNS
from dangan.ocr import OcrLine
from dangan.ocr.engines.base import quad_from_bbox
from dangan.quality.records import RecordInput

KEY_FIELDS = ("id_number", "name", "birth_date", "employer_name")


def _truth_pages(truth: dict[str, Any]) -> list[list[OcrLine]]:
    return [[OcrLine(b["text"], 0.99, quad_from_bbox(*b["bbox"])) for b in p["boxes"]] for p in truth["pages"]]


def _documents(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted((out / "ground_truth").glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        if truth["pages"] and not truth.get("defect"):
            docs.append((out / "scans" / truth["file"], truth))
    return docs


def _field_scores(
    results: list[tuple[dict[str, Any], Any]],
) -> tuple[dict[str, dict[str, float]], list[tuple]]:
    counts: dict[str, dict[str, int]] = {}
    wrong = []
    for truth, ex in results:
        for name, want in truth["fields"].items():
            got = ex.fields[name].value if name in ex.fields else None
            c = counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "n": 0})
            c["n"] += 1
            if got == want:
                c["tp"] += 1
            else:
                c["fn"] += 1
                c["fp"] += got is not None
                if got is not None:
                    wrong.append((truth["file"], name))
    scores = {
        name: {
            "precision": round(c["tp"] / max(c["tp"] + c["fp"], 1), 4),
            "recall": round(c["tp"] / max(c["tp"] + c["fn"], 1), 4),
            "exact": round(c["tp"] / max(c["n"], 1), 4),
            "n": c["n"],
        }
        for name, c in sorted(counts.items())
    }
    return scores, wrong


def _cells(results: list[tuple[dict[str, Any], Any]]) -> tuple[float, list[tuple]]:
    total = right = 0
    wrong = []
    for truth, ex in results:
        rows = truth["contributions"]
        for i, want in enumerate(rows):
            got = ex.contributions[i].values if i < len(ex.contributions) else {}
            for col in CONTRIBUTION_COLUMNS:
                total += 1
                if got.get(col) == want[col]:
                    right += 1
                elif got.get(col) is not None:
                    wrong.append((truth["file"], i, col))
    return (right / total if total else 1.0), wrong


def _record(truth: dict[str, Any], ex: Any, person: dict[str, str], rid: str) -> RecordInput:
    fields = {n: {"value": f.value, "confidence": f.confidence, "flags": list(f.flags)} for n, f in ex.fields.items()}
    return RecordInput(
        rid,
        ex.form_type,
        fields,
        [r.to_json() for r in ex.contributions],
        person_key=rid[:3],
        registered_id=person["id_number"],
        registered_name=person["name"],
    )


def _inject(pages: list[list[OcrLine]], rng: random.Random, rate: float) -> list[list[OcrLine]]:
    """PP-OCR's typical slips on blurred pages (OCR-NOTES.md), at ``rate`` per line: a thousands comma read
    as a full stop, 补缴 read as 补激, one digit of a long number misread."""
    out = []
    for page in pages:
        lines = []
        for ln in page:
            text = ln.text
            if rng.random() < rate:
                if re.search(r"\d,\d{3}", text):
                    text = text.replace(",", ".", 1)
                elif "补缴" in text:
                    text = text.replace("补缴", "补激")
                elif (m := re.search(r"\d{6,}", text)) is not None:
                    i = rng.randrange(m.start(), m.end())
                    text = text[:i] + str((int(text[i]) + rng.randint(1, 9)) % 10) + text[i + 1 :]
            lines.append(OcrLine(text, ln.confidence, ln.box))
        out.append(lines)
    return out


def _evaluate(results: list[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """Accuracy against the ground truth and what validation catches of the wrong values."""
    from dangan.quality.runner import validate_records

    scores, wrong_fields = _field_scores(results)
    cells, wrong_cells = _cells(results)
    persons = {t["file"][:3]: t["fields"] for t, _ in results if t["form_type"] == "registration"}
    records = [_record(t, ex, persons[t["file"][:3]], t["file"]) for t, ex in results]
    run = validate_records(records)
    flagged = {rid for rid, o in run.outcomes.items() if o.reasons}
    wrong_docs = {f for f, *_ in wrong_fields} | {f for f, *_ in wrong_cells}
    on_field = [(f, n) for f, n in wrong_fields if any(n in r["fields"] for r in run.outcomes[f].reasons)]
    clean = {t["file"] for t, _ in results} - wrong_docs
    total_n = max(sum(s["n"] for s in scores.values()), 1)
    return {
        "form_type_accuracy": round(sum(ex.form_type == t["form_type"] for t, ex in results) / len(results), 4),
        "key_fields_exact": {k: scores[k]["exact"] for k in KEY_FIELDS if k in scores},
        "fields_exact_overall": round(sum(s["exact"] * s["n"] for s in scores.values()) / total_n, 4),
        "contribution_cells_exact": round(cells, 4),
        "wrong_values": len(wrong_fields) + len(wrong_cells),
        "wrong_documents": len(wrong_docs),
        "wrong_documents_flagged_share": round(len(wrong_docs & flagged) / len(wrong_docs), 4) if wrong_docs else None,
        "wrong_fields_flagged_on_field_share": round(len(on_field) / len(wrong_fields), 4) if wrong_fields else None,
        "missed": sorted({(f, n) for f, n in wrong_fields if f not in flagged}),
        "clean_documents_flagged_share": round(len(clean & flagged) / max(len(clean), 1), 4),
        "fields": scores,
        "records": records,
    }


def _corrupted_ids(records: list[RecordInput], rng: random.Random) -> tuple[int, float | None]:
    """Every record's ID with one digit changed: the share flagged with an ``ID_*`` reason."""
    from dangan.quality.runner import validate_records

    corrupted = []
    for rec in records:
        rid = (rec.fields.get("id_number") or {}).get("value")
        if rid and len(rid) == 18:
            bad = copy.deepcopy(rec)
            pos = rng.randrange(17)
            bad.record_id = f"corrupt-{rec.record_id}"
            bad.fields["id_number"]["value"] = (
                rid[:pos] + str((int(rid[pos]) + rng.randint(1, 9)) % 10) + rid[pos + 1 :]
            )
            corrupted.append(bad)
    if not corrupted:
        return 0, None
    run = validate_records(corrupted)
    caught = sum(any(r["code"].startswith("ID_") for r in o.reasons) for o in run.outcomes.values())
    return len(corrupted), round(caught / len(corrupted), 4)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", default="ppocr")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--truth-ocr", action="store_true", help="use the renderer's text boxes instead of OCR")
    parser.add_argument("--slips", type=float, default=0.05, help="share of OCR lines given an injected slip")
    args = parser.parse_args(argv)

    from dangan.samples import generate_samples

    with tempfile.TemporaryDirectory(prefix="dangan-bench-") as tmp:
        out = Path(tmp)
        generate_samples(out, args.persons, seed=args.seed, degrade=True, bad_files=False)
        engine = None
        if not args.truth_ocr:
            from dangan.ocr import OcrOptions, create_engine

            engine = create_engine(OcrOptions(engine=args.engine, device=args.device))
        started = time.perf_counter()
        ocr: list[tuple[dict[str, Any], list[list[OcrLine]]]] = []
        for path, truth in _documents(out):
            if engine is None:
                ocr.append((truth, _truth_pages(truth)))
            else:
                from dangan.extract.images import ocr_file

                ocr.append((truth, [p.lines for p in ocr_file(path, engine)]))
        results = [(truth, extract_document(pages)) for truth, pages in ocr]
        seconds = time.perf_counter() - started

    rng = random.Random(args.seed)
    clean = _evaluate(results)
    noisy = _evaluate([(t, extract_document(_inject(p, rng, args.slips))) for t, p in ocr])
    count, share = _corrupted_ids(clean.pop("records"), rng)
    noisy.pop("records")
    pages = sum(len(p) for _, p in ocr)
    report = {
        "bench": "extract",
        "ocr": "truth" if engine is None else args.engine,
        "persons": args.persons,
        "seed": args.seed,
        "documents": len(results),
        "pages": pages,
        "ocr_extract_seconds": round(seconds, 2),
        "seconds_per_page": round(seconds / max(pages, 1), 3),
        "corrupted_ids": count,
        "corrupted_ids_flagged_share": share,
        **clean,
        "with_injected_slips": {"rate": args.slips, **{k: v for k, v in noisy.items() if k != "fields"}},
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
