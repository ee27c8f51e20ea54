"""Field extraction: every sample form, label variants, geometry, ambiguous amounts, vocabulary as data."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from dangan.extract import extract_document, load_vocabulary
from dangan.extract.errors import VocabularyError
from dangan.extract.vocab import PACKAGED
from dangan.ocr import OcrLine
from dangan.ocr.engines.base import quad_from_bbox
from tests.extract.helpers import truth_pages

KEY_FIELDS = ("id_number", "name", "birth_date", "employer_name")


def _line(text: str, x0: float, y0: float, x1: float, y1: float, conf: float = 0.98) -> OcrLine:
    return OcrLine(text, conf, quad_from_bbox(x0, y0, x1, y1))


def test_every_ground_truth_field_from_perfect_ocr(truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    assert {t["form_type"] for t in truths.values()} == {"registration", "account_statement", "transfer_form"}
    labels = set()
    for name, truth in truths.items():
        ex = extract_document(truth_pages(truth))
        assert ex.form_type == truth["form_type"], name
        got = {k: ex.fields[k].value if k in ex.fields else None for k in truth["fields"]}
        assert got == truth["fields"], name
        assert [
            {k: r.values[k] for k in row} for r, row in zip(ex.contributions, truth["contributions"], strict=True)
        ] == truth["contributions"], name
        if "id_number" in ex.fields:
            labels.add(ex.fields["id_number"].label)
            assert ex.fields["id_number"].box is not None and ex.fields["id_number"].confidence == pytest.approx(0.99)
    assert labels >= {"公民身份号码", "身份证号码", "社会保障号码"}  # the county variants all anchor


def test_real_ocr_on_degraded_scans(ocr_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths, results = ocr_batch
    wrong = []
    for name, truth in truths.items():
        ex = extract_document(results[name])
        assert ex.form_type == truth["form_type"], name
        for key in KEY_FIELDS:
            if key in truth["fields"] and (key not in ex.fields or ex.fields[key].value != truth["fields"][key]):
                wrong.append((name, key))
        assert len(ex.contributions) == len(truth["contributions"]), name
        if ex.contributions:
            assert [r.values["period"] for r in ex.contributions] == [r["period"] for r in truth["contributions"]]
    assert wrong == []


def test_value_right_of_label_stops_at_next_label_and_falls_back_below() -> None:
    lines = [
        _line("参保人员登记表", 600, 100, 1000, 150),
        _line("姓名", 100, 300, 180, 340),
        _line("王伟", 300, 300, 380, 340),
        _line("性别", 600, 300, 680, 340),
        _line("身份证号码", 100, 400, 300, 440),
        _line("民族", 600, 400, 680, 440),
        _line("户籍地址", 100, 500, 250, 540),
        _line("浙江省杭州市", 100, 560, 400, 600),
        _line("参保日期", 100, 700, 250, 740),
        _line("2004年8月", 300, 700, 450, 740),
    ]
    ex = extract_document([lines])
    assert ex.form_type == "registration"
    assert ex.fields["name"].value == "王伟"
    assert ex.fields["sex"].value is None  # nothing right of 性别 and nothing below it: absent, not guessed
    assert ex.fields["id_number"].value is None  # 民族 is a label: the ID cell is empty
    assert ex.fields["address"].value == "浙江省杭州市"  # below its label
    assert ex.fields["insured_since"].value == "2004-08"


def test_inline_labels_merged_lines_and_one_misread_character() -> None:
    lines = [
        _line("个人账户对账单", 600, 100, 1000, 150),
        _line("姓名：李娜 个人编号：330100000001", 100, 300, 1100, 340),
        _line("社会保障号玛：11010519491231002X", 100, 400, 900, 440),
        _line("累计缴费月数:235个月", 100, 500, 500, 540),
    ]
    ex = extract_document([lines])
    assert ex.form_type == "account_statement"
    assert ex.fields["name"].value == "李娜"
    assert ex.fields["person_code"].value == "330100000001"
    assert ex.fields["id_number"].value == "11010519491231002X"
    assert ex.fields["id_number"].label == "社会保障号码"
    assert ex.fields["months_paid"].value == "235"
    box = ex.fields["person_code"].box
    assert box is not None and box[0][0] > 450 and box[1][0] == 1100  # its own part of the merged line


def _rotate(lines: list[OcrLine], deg: float) -> list[OcrLine]:
    t = math.radians(deg)
    return [
        OcrLine(
            ln.text,
            ln.confidence,
            tuple((x * math.cos(t) - y * math.sin(t), x * math.sin(t) + y * math.cos(t)) for x, y in ln.box),
        )
        for ln in lines
    ]


def test_skewed_page_keeps_rows_apart(truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    truth = next(t for t in truths.values() if t["form_type"] == "registration")
    ex = extract_document([_rotate(truth_pages(truth)[0], 3.0)])
    assert {k: ex.fields[k].value for k in truth["fields"]} == truth["fields"]


def test_ambiguous_amount_is_flagged_not_fixed(truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    truth = next(t for t in truths.values() if t["form_type"] == "account_statement")
    pages = truth_pages(truth)
    # PP-OCR's slip on blurred pages: the thousands comma read as a full stop (15,380.00 → 15.380.00).
    at = next(i for i, ln in enumerate(pages[0]) if re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", ln.text))
    misread = pages[0][at].text.replace(",", ".")
    pages[0][at] = OcrLine(misread, 0.97, pages[0][at].box)
    ex = extract_document(pages)
    hits = [(row, col) for row in ex.contributions for col, v in row.values.items() if v == misread]
    assert len(hits) == 1
    row, col = hits[0]
    assert row.flags[col] == ("AMOUNT_AMBIGUOUS",)
    assert sum(len(r.flags) for r in ex.contributions) == 1  # every other cell parsed cleanly


def test_unknown_form_and_manifest_hint() -> None:
    blank = [_line("第 1 页", 500, 2000, 700, 2040)]
    assert extract_document([blank]).form_type == "unknown"
    assert extract_document([blank], form_hint="transfer_form").form_type == "transfer_form"
    assert extract_document([]).form_type == "unknown"


def test_label_vocabulary_is_data(tmp_path: Path) -> None:
    text = PACKAGED.read_text(encoding="utf-8").replace('labels = ["姓名",', 'labels = ["参保人", "姓名",', 1)
    custom = tmp_path / "labels.toml"
    custom.write_text(text, encoding="utf-8")
    vocab = load_vocabulary(custom)
    lines = [
        _line("参保人员登记表", 600, 100, 1000, 150),
        _line("参保人", 100, 300, 200, 340),
        _line("赵敏", 300, 300, 380, 340),
    ]
    assert extract_document([lines], vocab=vocab).fields["name"].value == "赵敏"
    assert "name" not in extract_document([lines]).fields or extract_document([lines]).fields["name"].value is None
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace('kind = "sex"', 'kind = "gender"'), encoding="utf-8")
    with pytest.raises(VocabularyError):
        load_vocabulary(broken)
