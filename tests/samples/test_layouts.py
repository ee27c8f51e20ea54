"""Layout families (dangan/samples/layouts.py): deterministic, truthful, and honestly split into dev/held-out."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest

from dangan.ids import birth_date_of, sex_of, validate_id
from dangan.samples import layouts
from dangan.samples.layouts import DEVELOPMENT, FAMILIES, FORM_TYPES, HELD_OUT, LayoutDocument, generate

DPI = 100  # small pages: the tests look at text boxes and truth, not at pixels
SEEDS = (0, 1, 2)


def _digest(doc: LayoutDocument) -> str:
    h = hashlib.sha256()
    for page in doc.pages:
        h.update(page.image.tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def docs() -> dict[tuple[str, int], LayoutDocument]:
    return {(f, s): generate(f, s, dpi=DPI) for f in FAMILIES for s in SEEDS}


def test_sets_are_disjoint_and_cover_every_form_type() -> None:
    assert set(DEVELOPMENT).isdisjoint(HELD_OUT)
    assert set(DEVELOPMENT) | set(HELD_OUT) == set(FAMILIES)
    for form_type in FORM_TYPES:
        assert layouts.families("held-out", form_type), form_type
        assert layouts.families("dev", form_type), form_type
        assert len(layouts.families("all", form_type)) >= 4, form_type
    assert layouts.families("dev") == list(DEVELOPMENT)
    with pytest.raises(ValueError, match="unknown family set"):
        layouts.families("test")
    with pytest.raises(ValueError, match="unknown layout family"):
        generate("nowhere")


def test_deterministic_by_seed() -> None:
    for family in FAMILIES:
        a, b = generate(family, 5, dpi=DPI), generate(family, 5, dpi=DPI)
        assert a.truth() == b.truth(), family
        assert _digest(a) == _digest(b), family
        c = generate(family, 6, dpi=DPI)
        assert _digest(c) != _digest(a), family  # another seed is another document


def test_form_types_and_truth_shape(docs: dict[tuple[str, int], LayoutDocument]) -> None:
    for (family, _), doc in docs.items():
        assert doc.family == family and doc.form_type == FAMILIES[family].form_type
        assert doc.pages and all(p.boxes for p in doc.pages)
        if doc.form_type == "unknown":
            assert doc.fields == {} and doc.contributions == [] and doc.printed == {}
            continue
        assert set(doc.fields) == set(doc.printed) == set(doc.labels), family
        assert all(v for v in doc.fields.values()), family
        if doc.form_type == "account_statement":
            assert doc.contributions, family
        else:
            assert doc.contributions == [], family
        if doc.form_type == "id_card":
            assert doc.doc_date is None
        else:
            assert doc.doc_date and date.fromisoformat(doc.doc_date)


def test_stored_forms(docs: dict[tuple[str, int], LayoutDocument]) -> None:
    for (family, _), doc in docs.items():
        f = doc.fields
        for key in ("birth_date", "doc_date", "transfer_date", "valid_from"):
            if key in f:
                date.fromisoformat(f[key])
        for key in ("insured_since", "insured_until", "period_first", "period_last"):
            if key in f:
                assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", f[key]), (family, key, f[key])
        for key in ("contribution_base", "period_total"):
            if key in f:
                assert re.fullmatch(r"\d+\.\d\d", f[key]), (family, key, f[key])
        if "ethnicity" in f:
            assert f["ethnicity"].endswith("族")
        if "valid_until" in f:
            assert f["valid_until"] == "长期" or date.fromisoformat(f["valid_until"]) > date.fromisoformat(
                f["valid_from"]
            )
        for row in doc.contributions:
            assert re.fullmatch(r"\d{4}-\d\d", row["period"])
            assert Decimal(row["total"]) == Decimal(row["employer"]) + Decimal(row["personal"])
            assert "status" not in row  # 已到账 is not a contribution column
        if "period_total" in f:
            assert Decimal(f["period_total"]) == sum(Decimal(r["total"]) for r in doc.contributions)


def test_identity_is_consistent(docs: dict[tuple[str, int], LayoutDocument]) -> None:
    seen_ids = 0
    for (family, _), doc in docs.items():
        for person in (doc.fields, *doc.others):
            rid = person.get("id_number")
            if not rid:
                continue
            seen_ids += 1
            assert validate_id(rid, today=date(2025, 1, 1)).valid, (family, rid)
            if "birth_date" in person:
                assert birth_date_of(rid).isoformat() == person["birth_date"], family
            if "sex" in person:
                assert sex_of(rid) == person["sex"], family
        if doc.form_type != "unknown":
            assert doc.person["id_number"] == doc.fields.get("id_number", doc.person["id_number"])
        for other in doc.others:  # the second person on a page is someone else
            assert other["id_number"] != doc.fields["id_number"] and other["name"] != doc.fields["name"]
    assert seen_ids >= len(SEEDS) * 18


def _on_page(doc: LayoutDocument, text: str) -> bool:
    """``text`` is inside one text box, or spans two consecutive boxes (an address wrapped over two lines)."""
    for page in doc.pages:
        texts = [b["text"] for b in page.boxes]
        if any(text in t for t in texts) or any(text in a + b for a, b in pairwise(texts)):
            return True
    return False


def _stored(key: str, printed: str) -> str:
    """An independent reading of a printed value into its stored form (what the truth must equal)."""
    digits = re.sub(r"\D", "", printed)
    if key in ("birth_date", "doc_date", "transfer_date", "valid_from", "valid_until") and printed != "长期":
        parts = [int(x) for x in re.findall(r"\d+", printed)] if not printed.isdigit() else []
        y, m, d = parts if parts else (int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        return date(y, m, d).isoformat()
    if key in ("insured_since", "insured_until", "period_first", "period_last"):
        parts = [int(x) for x in re.findall(r"\d+", printed)] if not printed.isdigit() else []
        y, m = parts if parts else (int(digits[:4]), int(digits[4:]))
        return f"{y:04d}-{m:02d}"
    if key in ("contribution_base", "period_total"):
        return f"{Decimal(printed.replace(',', '')):.2f}"
    if key == "ethnicity" and not printed.endswith("族"):
        return printed + "族"  # the ID card prints 汉, the official name is 汉族
    return printed


def test_every_field_is_printed_as_the_truth_says(docs: dict[tuple[str, int], LayoutDocument]) -> None:
    for (family, seed), doc in docs.items():
        for key, printed in doc.printed.items():
            assert _on_page(doc, printed), (family, seed, key, printed)
            assert _stored(key, printed) == doc.fields[key], (family, key, printed)
            assert _on_page(doc, doc.labels[key]), (family, key, doc.labels[key])
        for row in doc.contributions:  # every truth row's amounts are on the page in some printed form
            for col in ("base", "employer", "personal", "total"):
                if col in row:
                    value = Decimal(row[col])
                    assert _on_page(doc, f"{value:,.2f}") or _on_page(doc, f"{value:.2f}"), (family, col)


def test_unrelated_documents_print_label_words_but_no_fields(docs: dict[tuple[str, int], LayoutDocument]) -> None:
    texts = {f: " ".join(b["text"] for p in d.pages for b in p.boxes) for (f, s), d in docs.items() if s == 0}
    assert "姓名" in texts["exam-paper"] and "班别" in texts["exam-paper"]
    assert "公民身份号码" in texts["notice"] and "出生日期" in texts["notice"]
    ticket = generate("train-ticket", 0, dpi=DPI)
    assert ticket.person["name"] in texts["train-ticket"] and "****" in texts["train-ticket"]


def test_layout_variety() -> None:
    """The families differ in what the issue lists: label synonyms, titles, table column orders, two persons."""
    labels = {f: generate(f, 0, dpi=DPI).labels for f in FAMILIES}
    assert {labels[f].get("id_number") for f in FAMILIES} >= {"公民身份号码", "身份证号", "社会保障号码"}
    assert {labels[f].get("insured_since") for f in FAMILIES} >= {"参保日期", "参加工作时间", "首次参保年月"}
    assert {labels[f].get("contribution_base") for f in FAMILIES} >= {"缴费基数", "月缴费工资"}
    titles = {generate(f, 0, dpi=DPI).pages[0].lines[0] for f in layouts.families("all", "registration")}
    assert {"参保人员基本信息登记表", "职工参保登记表", "社会保险登记表"} <= titles
    orders = {tuple(generate(f, 0, dpi=DPI).contributions[0]) for f in layouts.families("all", "account_statement")}
    assert len(orders) >= 3  # column orders and column sets differ
    assert any(generate(f, 0, dpi=DPI).others for f in HELD_OUT)
    assert any(generate(f, 0, dpi=DPI).others for f in DEVELOPMENT)
    unruled = generate("gd-unruled", 0, dpi=DPI)
    assert any(re.search(r"\d\.\d\d$", b["text"]) for b in unruled.pages[0].boxes)
    assert any(b["text"] == "已到账" for b in unruled.pages[0].boxes)
