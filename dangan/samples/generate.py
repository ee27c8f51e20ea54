"""Batch generation: persons → documents → degraded pages → files, manifest and ground truth.

Layout: ``out_dir/scans/`` (the files, as a scanner hot folder), ``out_dir/manifest.csv`` (``file`` relative
to ``scans/``) and ``out_dir/ground_truth/<file stem>.json``.

Randomness comes from three ``random.Random`` streams derived from ``seed`` (persons, layout, degradation)
so switching degradations or bad files off leaves the persons and documents unchanged.

Format plan (so that two persons already cover every format): registration forms cycle JPEG, PNG,
single-page TIFF; account statements of the first two persons always span two pages and go to a multi-page
LZW TIFF and a multi-page Group 4 TIFF (later ones alternate; a one-page statement is a single-page TIFF);
the first person's transfer form is the batch's only PDF, later ones cycle TIFF, JPEG, PNG. The first
document is always clean and, with ``degrade``, the first page of the second document gets a ~5° skew.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dangan.csvsafe import SafeDictWriter
from dangan.errors import ConfigError
from dangan.samples import degrade as scanner
from dangan.samples import forms, writers
from dangan.samples.persons import make_person
from dangan.samples.regions import county

MANIFEST_COLUMNS = (
    "file", "site", "resident_id", "name", "dossier_category", "retention", "form_type", "doc_date",
    "expected_pages", "operator",
)  # fmt: skip
#: Retention periods: registrations found the insured relationship (kept permanently); transfer forms
#: prove continuity of insurance across regions (100 years); statements are copies of ledger data (30 years).
RETENTION = {"registration": "permanent", "account_statement": "30", "transfer_form": "100", "unknown": "10"}
SCANS = "scans"
OPERATORS = ("scan01", "scan02", "scan03")


@dataclass
class SampleBatch:
    """What :func:`generate_samples` wrote.

    Scans are in ``scans_dir`` (``out_dir/scans``) and manifest ``file`` values are relative to it, as for a
    real scanner hot folder; ``defects`` maps the manifest name of each bad file to its kind.
    """

    out_dir: Path
    manifest_path: Path
    ground_truth_dir: Path
    files: list[Path]
    persons: list[dict[str, Any]]
    scans_dir: Path
    defects: dict[str, str] = field(default_factory=dict)


def _formats(doc: forms.Document, index: int) -> str:
    if doc.form_type == "registration":
        return ("jpeg", "png", "tiff_lzw")[index % 3]
    if doc.form_type == "account_statement":
        return ("tiff_lzw", "tiff_g4")[index % 2] if len(doc.pages) > 1 else "tiff_lzw"
    if doc.form_type == "transfer_form":
        return "pdf" if index == 0 else ("tiff_lzw", "jpeg", "png")[(index - 1) % 3]
    return "jpeg"


def generate_samples(
    out_dir: Path,
    persons: int = 3,
    *,
    seed: int = 0,
    site: str = "330106",
    degrade: bool = True,
    bad_files: bool = True,
    dpi: tuple[int, ...] = (200, 300),
) -> SampleBatch:
    """Write ``persons`` × 3 scanned documents (plus bad files) under ``out_dir``; deterministic per ``seed``."""
    try:
        county(site)
    except ValueError as exc:
        raise ConfigError(str(exc), hint="Use a 6-digit GB/T 2260 county code such as 330106.") from None
    if persons < 1 or not dpi:
        raise ConfigError("need at least one person and one resolution", persons=persons, dpi=list(dpi))
    out_dir = Path(out_dir)
    gt_dir = out_dir / "ground_truth"
    (out_dir / SCANS).mkdir(parents=True, exist_ok=True)  # the "scanner hot folder" ingest reads
    gt_dir.mkdir(parents=True, exist_ok=True)
    person_rng, layout_rng = random.Random(seed), random.Random(f"{seed}:layout")
    degrade_rng = random.Random(f"{seed}:degrade")
    people = [make_person(person_rng, i, site, long_statement=i < 2) for i in range(persons)]
    batch = SampleBatch(out_dir, out_dir / "manifest.csv", gt_dir, [], people, scans_dir=out_dir / SCANS)
    rows: list[dict[str, str]] = []
    doc_number = 0
    for p in people:
        operator = layout_rng.choice(OPERATORS)
        docs = [
            builder(p, layout_rng.choice(dpi), layout_rng.random() < 0.7)
            for builder in (forms.registration, forms.account_statement, forms.transfer_form)
        ]
        for doc in docs:
            plans: list[list[dict[str, Any]]] = []
            for page_no in range(len(doc.pages)):
                if not degrade or doc_number == 0:
                    plans.append([])
                elif doc_number == 1 and page_no == 0:
                    plans.append(scanner.plan(degrade_rng, strong_skew=True))
                else:
                    plans.append(scanner.plan(degrade_rng) if degrade_rng.random() < 0.55 else [])
            name = f"p{p['index'] + 1:02d}_{doc.form_type}"
            rel = _write_document(batch, doc, name, _formats(doc, p["index"]), plans, seed + doc_number)
            rows.append(_row(rel, site, p, doc.form_type, doc.doc_date, len(doc.pages), operator))
            doc_number += 1
        if bad_files and p["index"] == 0:
            rows += _bad_files(batch, p, site, operator, layout_rng.choice(dpi), seed)
    with batch.manifest_path.open("w", encoding="utf-8", newline="") as fh:
        writer = SafeDictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return batch


def _row(rel: str, site: str, p: dict[str, Any], form_type: str, doc_date: str, pages: int, op: str) -> dict:
    return {
        "file": rel, "site": site, "resident_id": p["id_number"], "name": p["name"],
        "dossier_category": p["dossier_category"] if form_type == "registration" else "养老保险",
        "retention": RETENTION[form_type], "form_type": form_type, "doc_date": doc_date,
        "expected_pages": str(pages), "operator": op,
    }  # fmt: skip


def _write_document(batch: SampleBatch, doc: forms.Document, name: str, fmt: str,
                    plans: list[list[dict[str, Any]]], noise_seed: int, defect: str | None = None) -> str:  # fmt: skip
    rel = f"{name}{writers.EXTENSIONS[fmt]}"
    images, pages_gt = [], []
    for number, (page, steps) in enumerate(zip(doc.pages, plans, strict=True), start=1):
        # Degrade in the scanner's colour space: greyscale work is three times cheaper than RGB.
        scanned = scanner.apply(writers.scan_mode(page.image, fmt), steps, page.dpi, noise_seed * 10 + number)
        image = writers.finish(scanned, fmt)
        images.append(image)
        pages_gt.append({
            "page": number, "dpi": page.dpi, "width": image.width, "height": image.height,
            "color_mode": image.mode, "lines": page.lines, "degradations": steps,
            "stamps": page.stamps, "boxes": page.boxes,
        })  # fmt: skip
    path = batch.scans_dir / rel
    writers.save(images, path, fmt, doc.pages[0].dpi, doc.doc_date)
    batch.files.append(path)
    truth = {
        "file": rel, "form_type": doc.form_type, "format": fmt, "defect": defect, "pages": pages_gt,
        "fields": doc.fields, "contributions": doc.contributions,
    }  # fmt: skip
    _write_truth(batch, rel, truth)
    return rel


def _write_truth(batch: SampleBatch, rel: str, truth: dict[str, Any]) -> None:
    path = batch.ground_truth_dir / f"{Path(rel).stem}.json"
    path.write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")


def _bad_files(batch: SampleBatch, p: dict[str, Any], site: str, op: str, dpi: int, seed: int) -> list[dict]:
    """Blank page, zero-byte TIFF, truncated JPEG and a text file named .png, all filed under person ``p``."""
    stem = f"p{p['index'] + 1:02d}"
    date = p["registration_date"]
    blank = forms.blank_page(dpi, date)
    rel = _write_document(batch, blank, f"{stem}_blank_page", "jpeg", [[{"kind": "noise", "sigma": 3.0}]],
                          seed + 9999, defect="blank_page")  # fmt: skip
    batch.defects[rel] = "blank_page"
    rows = [_row(rel, site, p, "unknown", date, 1, op)]
    source = batch.scans_dir / f"{stem}_registration.jpg"  # the first person's form is a JPEG
    cases = [
        (f"{stem}_zero_byte.tif", "zero_byte", "unknown", lambda path: writers.write_zero_byte(path)),
        (f"{stem}_truncated.jpg", "truncated", "registration", lambda path: writers.write_truncated(source, path)),
        (f"{stem}_not_an_image.png", "not_an_image", "unknown", lambda path: writers.write_not_an_image(path)),
    ]
    for filename, defect, form_type, write in cases:
        rel = filename
        write(batch.scans_dir / rel)
        batch.files.append(batch.scans_dir / rel)
        batch.defects[rel] = defect
        truth: dict[str, Any] = {"file": rel, "form_type": form_type, "format": None, "defect": defect, "pages": [],
                 "fields": {}, "contributions": []}  # fmt: skip
        _write_truth(batch, rel, truth)
        rows.append(_row(rel, site, p, form_type, date, 1, op))
    return rows
