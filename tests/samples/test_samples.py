"""Sample-scan generator: files, manifest, ground truth and metadata agree with each other."""

from __future__ import annotations

import csv
import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageSequence, UnidentifiedImageError

from dangan.errors import ConfigError
from dangan.ids import validate_id
from dangan.samples import MANIFEST_COLUMNS, SampleBatch, generate_samples, render

SEED = 7


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> SampleBatch:
    return generate_samples(tmp_path_factory.mktemp("samples"), persons=2, seed=SEED)


def _manifest(batch: SampleBatch) -> list[dict[str, str]]:
    with batch.manifest_path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == MANIFEST_COLUMNS
        return list(reader)


def _truth(batch: SampleBatch, rel: str) -> dict[str, Any]:
    return json.loads((batch.ground_truth_dir / f"{Path(rel).stem}.json").read_text(encoding="utf-8"))


def _good_rows(batch: SampleBatch) -> list[dict[str, str]]:
    return [r for r in _manifest(batch) if r["file"] not in batch.defects or batch.defects[r["file"]] == "blank_page"]


def test_manifest_columns_and_files(batch: SampleBatch) -> None:
    header = batch.manifest_path.read_text(encoding="utf-8").splitlines()[0]
    assert header == "file,site,resident_id,name,dossier_category,retention,form_type,doc_date,expected_pages,operator"
    rows = _manifest(batch)
    assert len(rows) == 2 * 3 + 4  # three documents per person, four bad files
    assert {batch.scans_dir / r["file"] for r in rows} == set(batch.files)
    assert all(p.is_file() for p in batch.files)  # bad files exist too
    assert batch.scans_dir == batch.out_dir / "scans"
    assert sorted(p.name for p in batch.scans_dir.iterdir()) == sorted(r["file"] for r in rows)  # nothing else
    assert sorted(batch.defects.values()) == ["blank_page", "not_an_image", "truncated", "zero_byte"]
    for row in rows:
        assert row["site"] == "330106"
        assert row["retention"] in {"permanent", "10", "30", "50", "100"}
        assert row["form_type"] in {"registration", "account_statement", "transfer_form", "unknown"}
        assert validate_id(row["resident_id"]).valid
        assert (batch.ground_truth_dir / f"{Path(row['file']).stem}.json").is_file()
    assert {r["form_type"] for r in rows if batch.defects.get(r["file"]) == "blank_page"} == {"unknown"}


def test_ground_truth_fields_match_manifest_and_pages(batch: SampleBatch) -> None:
    for row in _good_rows(batch):
        truth = _truth(batch, row["file"])
        assert truth["file"] == row["file"] and truth["form_type"] == row["form_type"]
        assert len(truth["pages"]) == int(row["expected_pages"])
        fields = truth["fields"]
        if row["form_type"] == "unknown":
            assert fields == {} and all(p["lines"] == [] for p in truth["pages"])
            continue
        assert fields["id_number"] == row["resident_id"] and fields["name"] == row["name"]
        text = "\n".join(line for page in truth["pages"] for line in page["lines"])
        for key in ("name", "id_number", "employer_name", "person_code", "phone", "address", "months_paid"):
            if key in fields:
                assert fields[key] in text, key
        if "contribution_base" in fields:
            assert f"{Decimal(fields['contribution_base']):,.2f}" in text


def _pdf_dpi(path: Path) -> tuple[int, list[int]]:
    pdf = pdfium.PdfDocument(path)
    try:
        dpis = []
        for page in pdf:
            width_pt, _ = page.get_size()
            (image,) = [obj for obj in page.get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
            dpis.append(round(image.get_px_size()[0] / (width_pt / 72)))
        return len(pdf), dpis
    finally:
        pdf.close()


def test_resolution_metadata_and_page_counts(batch: SampleBatch) -> None:
    seen: set[tuple[str, str]] = set()
    for row in _good_rows(batch):
        path, truth = batch.scans_dir / row["file"], _truth(batch, row["file"])
        want = [p["dpi"] for p in truth["pages"]]
        if path.suffix == ".pdf":
            assert _pdf_dpi(path) == (int(row["expected_pages"]), want)
            seen.add(("pdf", ""))
            continue
        with Image.open(path) as im:
            frames = list(ImageSequence.Iterator(im))
            assert len(frames) == int(row["expected_pages"])
            for frame, page in zip(frames, truth["pages"], strict=True):
                assert tuple(round(v) for v in frame.info["dpi"]) == (page["dpi"], page["dpi"])
                assert (frame.width, frame.height, frame.mode) == (page["width"], page["height"], page["color_mode"])
            seen.add((im.format, f"{im.info.get('compression', '')}/{'multi' if len(frames) > 1 else 'single'}"))
    assert {("TIFF", "tiff_lzw/multi"), ("TIFF", "group4/multi"), ("TIFF", "tiff_lzw/single")} <= seen
    assert {"JPEG", "PNG", "pdf"} <= {fmt for fmt, _ in seen}


def test_contribution_tables_add_up(batch: SampleBatch) -> None:
    statements = [r for r in _manifest(batch) if r["form_type"] == "account_statement"]
    assert len(statements) == 2
    cent = Decimal("0.01")
    for row in statements:
        truth = _truth(batch, row["file"])
        rows = truth["contributions"]
        assert 12 <= len(rows) <= 24
        periods = [r["period"] for r in rows]
        assert periods == sorted(set(periods))
        for r in rows:
            base = Decimal(r["base"])
            assert Decimal(r["employer"]) == (base * Decimal("0.16")).quantize(cent, ROUND_HALF_UP)
            assert Decimal(r["personal"]) == (base * Decimal("0.08")).quantize(cent, ROUND_HALF_UP)
            assert Decimal(r["total"]) == Decimal(r["employer"]) + Decimal(r["personal"])
            assert r["flag"] in {"正常", "补缴"}
        text = "\n".join(line for page in truth["pages"] for line in page["lines"])
        grand = sum((Decimal(r["total"]) for r in rows), Decimal(0))
        assert f"本期缴费合计：{grand:,.2f}" in text
        assert f"累计缴费月数：{truth['fields']['months_paid']}" in text
        assert int(truth["fields"]["months_paid"]) >= len(rows)
    gaps = [p["gaps"] for p in batch.persons]
    assert any(gaps)  # the second person always has a 断缴 month
    for person in batch.persons:
        for gap in person["gaps"]:
            assert gap not in {c["period"] for c in person["contributions"]}
            assert person["first"] < gap < person["last"]
        assert person["insured_since"] <= person["first"]  # statements never predate the insured relationship


def test_bad_files_are_really_bad(batch: SampleBatch) -> None:
    by_kind = {kind: batch.scans_dir / rel for rel, kind in batch.defects.items()}
    assert by_kind["zero_byte"].stat().st_size == 0
    with pytest.raises(UnidentifiedImageError):
        Image.open(by_kind["not_an_image"])
    with pytest.raises(OSError, match="truncated"), Image.open(by_kind["truncated"]) as im:
        im.load()
    source = batch.scans_dir / "p01_registration.jpg"
    assert source.read_bytes().startswith(by_kind["truncated"].read_bytes())
    with Image.open(by_kind["blank_page"]) as im:
        grey = im.convert("L")
        extrema = grey.getextrema()
        assert extrema[0] > 180 and sum(grey.getdata()) / (grey.width * grey.height) > 240


def test_degradations_keep_a_clean_subset_and_one_strong_skew(batch: SampleBatch) -> None:
    documents = [r["file"] for r in _manifest(batch) if r["file"] not in batch.defects]
    pages = [page for rel in documents for page in _truth(batch, rel)["pages"]]
    skews = [d["angle_deg"] for p in pages for d in p["degradations"] if d["kind"] == "skew"]
    assert sum(abs(a) >= 4.5 for a in skews) == 1
    assert all(0.5 <= abs(a) <= 2.5 for a in skews if abs(a) < 4.5)
    assert any(not p["degradations"] for p in pages) and any(p["degradations"] for p in pages)


def test_same_seed_same_bytes_other_seed_differs(batch: SampleBatch, tmp_path: Path) -> None:
    again = generate_samples(tmp_path / "again", persons=2, seed=SEED)
    assert again.manifest_path.read_bytes() == batch.manifest_path.read_bytes()

    def digests(b: SampleBatch) -> dict[str, str]:
        files = [*b.files, *b.ground_truth_dir.iterdir()]
        return {str(p.relative_to(b.out_dir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    assert digests(again) == digests(batch)
    other = generate_samples(tmp_path / "other", persons=1, seed=SEED + 1, degrade=False, bad_files=False, dpi=(200,))
    rows = _manifest(other)
    assert len(rows) == 3 and not other.defects
    assert rows[0]["resident_id"] != _manifest(batch)[0]["resident_id"]
    assert all(not p["degradations"] for r in rows for p in _truth(other, r["file"])["pages"])


def test_every_rendered_character_has_a_glyph(batch: SampleBatch) -> None:
    """No tofu: each character drawn renders differently from the font's missing-glyph box."""
    face = render.font(40)

    def glyph(char: str) -> bytes:
        canvas = Image.new("L", (60, 60))
        ImageDraw.Draw(canvas).text((5, 5), char, font=face, fill=255)
        return canvas.tobytes()

    tofu = glyph("\U000f0000")  # private-use plane: no CJK font has it
    assert glyph("\U000f0001") == tofu and glyph("保") != tofu  # the probe itself works
    chars = {c for r in _good_rows(batch) for p in _truth(batch, r["file"])["pages"] for ln in p["lines"] for c in ln}
    chars |= {c for p in batch.persons for c in p["employer_name"] + p["agency"]}  # stamp texts
    missing = sorted(c for c in chars - {" "} if glyph(c) == tofu)
    assert missing == []


def test_missing_font_and_bad_site_raise_config_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="county code"):
        generate_samples(tmp_path, site="990101")
    monkeypatch.setattr(render, "_REGULAR", (tmp_path / "none.ttc",))
    monkeypatch.setattr(render, "_BOLD", tmp_path / "none-bold.ttc")
    render.find_font.cache_clear()
    render.font.cache_clear()
    try:
        with pytest.raises(ConfigError) as info:
            render.find_font()
        assert "apt-get install fonts-noto-cjk" in str(info.value)
    finally:
        monkeypatch.undo()
        render.find_font.cache_clear()
        render.font.cache_clear()
