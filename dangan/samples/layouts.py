"""Layout families: the same forms as different provinces print them, with per-field ground truth.

The project's own samples (:mod:`dangan.samples.forms`) print each form type one way. Real dossiers hold the
same forms in many layouts: other label words (公民身份号码 / 身份证号 / 社会保障号码), the label above the value
instead of left of it, boxed cells, underlines or colon-separated free text, two persons on one page, other
titles, contribution tables with other column orders or no rules at all, plus resident ID-card copies and
documents that are not forms at all. Each *family* here is one such layout (``zj-boxed-left``, ``gd-underline``,
``idcard-copy``, ``train-ticket`` ...); :func:`generate` renders one document of a family for a seed.

Development and held-out families
---------------------------------
Families are split into :data:`DEVELOPMENT` and :data:`HELD_OUT`, the way a new province's forms arrive after the
extractor was written. **Held-out families must never be used in unit tests of the extractor** (tests under
``tests/extract/``, or any test tuned against their output): they are for the benchmark (``bench/extract.py
--families held-out``) alone, so its figures say how extraction does on layouts nobody tuned it for. Every
form type (registration, account_statement, transfer_form, id_card and unrelated documents) has at least one
held-out family. The label words printed by held-out families are drawn from the vocabulary the issue names
(``dangan/extract/labels.toml`` and its synonyms), so the held-out set measures layout generalisation, not the
guessing of label words nobody listed.

Ground truth
------------
:class:`LayoutDocument` carries ``fields`` in their stored form (ISO dates ``1990-03-05``, months ``2012-05``,
plain decimals ``5380.00``, ethnicity with its 族 suffix as the official list names it), the exact printed text
of each value (``printed``) and its printed label (``labels``), contribution rows (only the columns the table
prints), the fields of any *other* person printed on the page (``others``: a value taken from them is a false
value) and ``person``: everything known about the document's person (a value the page does not print but that
equals it, such as a birth date derived from the ID, is not counted as false). Pages keep the renderer's text
boxes (:class:`~dangan.samples.render.Page` ``boxes``): the OCR ground truth for ``--truth-ocr`` runs.

ID-card copies (``form_type = "id_card"``) use the field names ``name``, ``sex``, ``ethnicity``, ``birth_date``,
``address``, ``id_number`` (front) and ``issuing_authority`` (签发机关), ``valid_from`` and ``valid_until``
(有效期限: ISO dates, ``valid_until`` is ``长期`` for a card without end date) on the back. Unrelated documents
(``form_type = "unknown"``) have no fields: anything extracted from them is invented.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw

from dangan.ids import birth_date_of, region_of
from dangan.samples.persons import make_person
from dangan.samples.regions import county
from dangan.samples.render import INK, PAPER, Cell, Page

__all__ = [
    "DEVELOPMENT",
    "FAMILIES",
    "FORM_TYPES",
    "HELD_OUT",
    "Family",
    "LayoutDocument",
    "families",
    "generate",
]

FORM_TYPES = ("registration", "account_statement", "transfer_form", "id_card", "unknown")
LEFT = 20.0
STATEMENT_ROWS = 12
_DATE_KEYS = {"birth_date", "doc_date", "transfer_date", "valid_from"}
_MONTH_KEYS = {"insured_since", "insured_until", "period_first", "period_last"}
_AMOUNT_KEYS = {"contribution_base", "period_total"}
_CARD_MM = (85.6, 54.0)


@dataclass
class LayoutDocument:
    """One generated document of a layout family and what a perfect reader would extract from it."""

    family: str
    form_type: str
    seed: int
    pages: list[Page]
    doc_date: str | None
    fields: dict[str, str] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    contributions: list[dict[str, str]] = field(default_factory=list)
    others: list[dict[str, str]] = field(default_factory=list)
    person: dict[str, str] = field(default_factory=dict)

    def truth(self) -> dict[str, Any]:
        """Ground truth as plain JSON, pages with their lines and text boxes (no pixels)."""
        return {
            "family": self.family,
            "form_type": self.form_type,
            "seed": self.seed,
            "held_out": FAMILIES[self.family].held_out,
            "doc_date": self.doc_date,
            "fields": self.fields,
            "printed": self.printed,
            "labels": self.labels,
            "contributions": self.contributions,
            "others": self.others,
            "person": self.person,
            "pages": [
                {
                    "page": n,
                    "dpi": p.dpi,
                    "width": p.image.width,
                    "height": p.image.height,
                    "lines": p.lines,
                    "boxes": p.boxes,
                }
                for n, p in enumerate(self.pages, start=1)
            ],
        }


# --- value formatting: stored form → printed form --------------------------------------------------------


def fmt_date(iso: str, style: str) -> str:
    """Printed date: ``iso`` 1990-03-05, ``cn`` 1990年03月05日, ``cn-short`` 1990年3月5日, ``dot`` 1990.03.05,
    ``compact`` 19900305."""
    d = date.fromisoformat(iso)
    return {
        "iso": iso,
        "cn": f"{d:%Y年%m月%d日}",
        "cn-short": f"{d.year}年{d.month}月{d.day}日",
        "dot": f"{d:%Y.%m.%d}",
        "compact": f"{d:%Y%m%d}",
    }[style]


def fmt_month(period: str, style: str) -> str:
    """Printed month: ``iso`` 2012-05, ``cn`` 2012年05月, ``dot`` 2012.05, ``compact`` 201205."""
    y, m = period[:4], period[5:7]
    return {"iso": period, "cn": f"{y}年{m}月", "dot": f"{y}.{m}", "compact": f"{y}{m}"}[style]


def fmt_amount(value: str, style: str) -> str:
    """Printed amount: ``comma`` 15,380.00 or ``plain`` 15380.00."""
    return f"{Decimal(value):,.2f}" if style == "comma" else f"{Decimal(value):.2f}"


class _Sheet:
    """Collects the fields one person's block prints while a layout draws them."""

    def __init__(self, p: dict[str, Any], styles: dict[str, str]) -> None:
        self.p = p
        self.styles = {"date": "cn", "month": "iso", "amount": "comma"} | styles
        self.fields: dict[str, str] = {}
        self.printed: dict[str, str] = {}
        self.labels: dict[str, str] = {}

    def show(self, key: str, stored: str | None = None) -> str:
        """The printed form of field ``key`` (its stored value from the person unless ``stored`` is given)."""
        value = str(self.p[key] if stored is None else stored)
        if key in _DATE_KEYS:
            return fmt_date(value, self.styles["date"])
        if key in _MONTH_KEYS:
            return fmt_month(value, self.styles["month"])
        if key in _AMOUNT_KEYS:
            return fmt_amount(value, self.styles["amount"])
        return value

    def item(self, key: str, label: str, stored: str | None = None) -> tuple[str, str]:
        """Record field ``key`` as printed under ``label``; returns ``(label, printed value)``."""
        value = str(self.p[key] if stored is None else stored)
        printed = self.show(key, value)
        self.fields[key], self.printed[key], self.labels[key] = value, printed, label
        return label, printed

    def cells(self, key: str, label: str, span: int = 1, stored: str | None = None) -> list[Cell]:
        """Label cell plus value cell (``span`` columns) of a ruled label-left table."""
        lab, val = self.item(key, label, stored)
        return [Cell(lab), Cell(val, span)]


# --- drawing helpers on render.Page ----------------------------------------------------------------------


def _grid_above(page: Page, sheet: _Sheet, x: float, y: float, col_w: float, row_h: float,
                rows: list[list[tuple[str, str, int]]]) -> float:  # fmt: skip
    """Boxed cells with the label small at the top of each cell and the value below it. Returns the bottom."""
    rule = max(2, page.px(0.25))
    for r, row in enumerate(rows):
        top = y + r * row_h
        cx = x
        parts = []
        for key, label, span in row:
            w = col_w * span
            page.draw.rectangle([page.px(cx), page.px(top), page.px(cx + w), page.px(top + row_h)], outline=INK,
                                width=rule)  # fmt: skip
            lab, val = sheet.item(key, label)
            page.text(cx + 1.5, top + 2.6, lab, 8)
            page.text(cx + 2.5, top + row_h * 0.64, val, 11, max_width=w - 4)
            parts += [lab, val]
            cx += w
        page.lines.append(" ".join(parts))
    return y + len(rows) * row_h


def _underlined(page: Page, sheet: _Sheet, y: float, items: list[tuple[str, str]], xs: list[float],
                end: float = 190.0) -> None:  # fmt: skip
    """``label：`` followed by the value written on an underline, items side by side at ``xs`` (mm)."""
    parts = []
    for i, (key, label) in enumerate(items):
        lab, val = sheet.item(key, label)
        x = xs[i]
        right = xs[i + 1] - 4 if i + 1 < len(items) else end
        page.text(x, y, f"{lab}：", 11.5)
        lw = page.font(11.5).getlength(f"{lab}：") * 25.4 / page.dpi
        page.text(x + lw + 2, y - 0.4, val, 11.5, max_width=right - x - lw - 3)
        page.draw.line([(page.px(x + lw), page.px(y + 2.6)), (page.px(right), page.px(y + 2.6))], fill=INK,
                       width=max(1, page.px(0.18)))  # fmt: skip
        parts.append(f"{lab}：{val}")
    page.lines.append(" ".join(parts))


def _free(page: Page, sheet: _Sheet, y: float, items: list[tuple[str, str]], xs: list[float],
          pt: float = 12) -> None:  # fmt: skip
    """Colon-separated free text: each item one printed ``label：value``."""
    page.line(y, *((x, "{}：{}".format(*sheet.item(key, label))) for x, (key, label) in zip(xs, items, strict=True)),
              pt=pt)  # fmt: skip


def _unruled_table(page: Page, x: float, y: float, widths: list[float], rows: list[list[Cell]], row_h: float,
                   pt: float = 10.5) -> float:  # fmt: skip
    """A table printed as aligned text only (no rules); each row one recorded line. Returns the bottom."""
    for r, row in enumerate(rows):
        mid = y + r * row_h + row_h / 2
        cx = x
        for width, cell in zip(widths, row, strict=True):
            if cell.align == "right":
                page.text(cx + width - 1, mid, cell.text, pt, anchor="rm")
            elif cell.align == "center":
                page.text(cx + width / 2, mid, cell.text, pt, anchor="mm")
            else:
                page.text(cx + 1, mid, cell.text, pt, anchor="lm")
            cx += width
        page.lines.append(" ".join(c.text for c in row if c.text))
    return y + len(rows) * row_h


class _SizedPage(Page):
    """A page of ``w`` × ``h`` mm (an ID-card crop, a ticket) instead of A4."""

    def __init__(self, dpi: int, w: float, h: float) -> None:
        super().__init__(dpi)
        self.image = Image.new("RGB", (self.px(w), self.px(h)), PAPER)
        self.draw = ImageDraw.Draw(self.image)


def _person(rng: random.Random, seed: int, site: str, sex: str | None = None) -> dict[str, Any]:
    while True:
        p = make_person(rng, seed, site, long_statement=False)
        if sex is None or p["sex"] == sex:
            return p


def _known(p: dict[str, Any]) -> dict[str, str]:
    keys = ("name", "sex", "ethnicity", "birth_date", "id_number", "phone", "address", "employer_name",
            "employer_code", "person_code", "insured_since", "contribution_base", "insurance_type",
            "insured_status", "payment_status", "months_paid", "agency")  # fmt: skip
    return {k: str(p[k]) for k in keys}


def _doc(family: str, form_type: str, pages: list[Page], doc_date: str | None, sheet: _Sheet | None,
         p: dict[str, Any], **kw: Any) -> LayoutDocument:  # fmt: skip
    fields = dict(sheet.fields) if sheet else {}
    printed = dict(sheet.printed) if sheet else {}
    labels = dict(sheet.labels) if sheet else {}
    return LayoutDocument(family, form_type, 0, pages, doc_date, fields, printed, labels, person=_known(p), **kw)


# --- registration (参保人员登记表) -------------------------------------------------------------------------


def _reg(p: dict[str, Any]) -> dict[str, Any]:
    return p | {"doc_date": p["registration_date"]}


def _reg_zj_boxed_left(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(p, {"date": "iso", "month": "cn", "amount": "comma"})
    page = Page(dpi)
    page.centered(22, "参保人员基本信息登记表", 19, bold=True)
    s.styles["date"] = "cn"
    agency, when = s.item("agency", "经办机构"), s.item("doc_date", "填表日期", p["registration_date"])
    page.line(34, (LEFT, "{}：{}".format(*agency)), (128, "{}：{}".format(*when)))
    s.styles["date"] = "iso"
    rows = [
        [*s.cells("name", "姓名"), *s.cells("sex", "性别"), *s.cells("ethnicity", "民族")],
        [*s.cells("birth_date", "出生日期"), *s.cells("id_number", "公民身份号码", 3)],
        [*s.cells("phone", "联系电话"), *s.cells("person_code", "个人编号", 3)],
        s.cells("address", "户籍地址", 5),
        s.cells("employer_name", "单位名称", 5),
        [*s.cells("employer_code", "统一社会信用代码", 2), *s.cells("insured_since", "参保日期", 2)],
        [*s.cells("contribution_base", "缴费基数"), *s.cells("insurance_type", "险种", 3)],
        [*s.cells("insured_status", "参保状态"), *s.cells("payment_status", "缴费状态", 3)],
    ]
    bottom = page.table(LEFT, 42, [30, 36, 28, 34, 18, 24], rows, 10.5)
    page.line(bottom + 12, (LEFT, "本人承诺：以上填报信息真实、准确。"))
    page.line(bottom + 26, (LEFT, "申报人（签字）："), (110, "经办人："))
    return _doc("zj-boxed-left", "registration", [page], p["registration_date"], s, p)


def _reg_js_above(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_reg(p), {"date": "cn", "month": "dot", "amount": "plain"})
    page = Page(dpi)
    page.centered(22, "职工参保登记表", 20, bold=True)
    page.centered(31, "（个人信息）", 11)
    rows = [
        [("name", "姓名", 1), ("sex", "性别", 1), ("ethnicity", "民族", 1), ("birth_date", "出生年月日", 1)],
        [("id_number", "身份证号", 2), ("phone", "联系电话", 1), ("person_code", "个人编号", 1)],
        [("employer_name", "工作单位", 3), ("insured_since", "参加工作时间", 1)],
        [("employer_code", "单位代码", 2), ("contribution_base", "月缴费工资", 1), ("insured_status", "人员状态", 1)],
        [("insurance_type", "参保险种", 2), ("payment_status", "缴费状态", 2)],
        [("address", "家庭住址", 4)],
    ]
    bottom = _grid_above(page, s, LEFT, 40, 42.5, 15, rows)
    _free(page, s, bottom + 10, [("doc_date", "填报日期")], [LEFT])
    page.line(bottom + 24, (LEFT, "单位经办人（签字）："), (120, "单位（盖章）"))
    return _doc("js-above", "registration", [page], p["registration_date"], s, p)


def _reg_sc_freetext(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_reg(p), {"date": "cn", "month": "cn", "amount": "comma"})
    page = Page(dpi)
    page.centered(22, "社会保险参保人员登记表", 19, bold=True)
    xs3, xs2 = [LEFT, 80, 130], [LEFT, 110]
    _free(page, s, 40, [("name", "姓名"), ("sex", "性别"), ("ethnicity", "民族")], xs3)
    _free(page, s, 50, [("birth_date", "出生日期"), ("id_number", "证件号码")], [LEFT, 85])
    _free(page, s, 60, [("phone", "手机号码"), ("person_code", "个人编号")], xs2)
    _free(page, s, 70, [("address", "居住地址")], [LEFT])
    _free(page, s, 80, [("employer_name", "参保单位")], [LEFT])
    _free(page, s, 90, [("employer_code", "单位编号"), ("insured_since", "参保时间")], xs2)
    _free(page, s, 100, [("contribution_base", "缴费基数"), ("insurance_type", "险种")], [LEFT, 85])
    _free(page, s, 110, [("insured_status", "参保状态"), ("payment_status", "缴费状态")], xs2)
    page.line(125, (LEFT, "以上信息经本人核对无误。"))
    _free(page, s, 140, [("doc_date", "填表日期")], [110], pt=11)
    return _doc("sc-freetext", "registration", [page], p["registration_date"], s, p)


def _reg_block(page: Page, s: _Sheet, y: float, head: str) -> float:
    page.line(y, (LEFT, head), pt=12, bold=True)
    rows = [
        [*s.cells("name", "姓名"), *s.cells("sex", "性别"), *s.cells("ethnicity", "民族")],
        [*s.cells("birth_date", "出生日期"), *s.cells("id_number", "公民身份号码", 3)],
        [*s.cells("phone", "联系电话"), *s.cells("person_code", "个人编号", 3)],
        s.cells("employer_name", "单位名称", 5),
        [*s.cells("insured_since", "参保日期"), *s.cells("contribution_base", "缴费基数", 3)],
    ]
    return page.table(LEFT, y + 5, [28, 34, 30, 34, 18, 26], rows, 10)


def _reg_two_person(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    spouse = _person(rng, p["index"] + 1, "430102", "女" if p["sex"] == "男" else "男")
    styles = {"date": "dot", "month": "iso", "amount": "comma"}
    s, t = _Sheet(p, styles), _Sheet(spouse, styles)
    page = Page(dpi)
    page.centered(22, "参保人员登记表（家庭成员合并登记）", 17, bold=True)
    bottom = _reg_block(page, s, 38, "一、参保人")
    bottom = _reg_block(page, t, bottom + 10, "二、配偶")
    page.line(bottom + 14, (LEFT, "申报人（签字）："), (110, "经办人："))
    return _doc("two-person", "registration", [page], p["registration_date"], s, p, others=[t.fields])


def _reg_gd_underline(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_reg(p), {"date": "dot", "month": "compact", "amount": "plain"})
    page = Page(dpi)
    page.centered(22, "社会保险登记表", 20, bold=True)
    page.centered(31, "（职工个人）", 11)
    two, three = [LEFT, 110], [LEFT, 80, 140]
    _underlined(page, s, 44, [("name", "姓名"), ("sex", "性别"), ("ethnicity", "民族")], three)
    _underlined(page, s, 56, [("birth_date", "出生日期"), ("id_number", "社会保障号码")], [LEFT, 80])
    _underlined(page, s, 68, [("phone", "手机号码"), ("person_code", "个人社保编号")], two)
    _underlined(page, s, 80, [("address", "户籍所在地")], [LEFT])
    _underlined(page, s, 92, [("employer_name", "用人单位")], [LEFT])
    _underlined(page, s, 104, [("employer_code", "单位编号"), ("insured_since", "首次参保年月")], [LEFT, 110])
    _underlined(page, s, 116, [("contribution_base", "月缴费基数"), ("insurance_type", "险种类型")], [LEFT, 80])
    _underlined(page, s, 128, [("insured_status", "参保状态"), ("payment_status", "缴费状态")], two)
    page.line(146, (LEFT, "本人对以上信息的真实性负责。"), pt=11)
    s.styles["date"] = "cn"
    _underlined(page, s, 160, [("doc_date", "填表日期")], [110])
    return _doc("gd-underline", "registration", [page], p["registration_date"], s, p)


def _reg_hn_family(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    spouse = _person(rng, p["index"] + 1, "430102", "女" if p["sex"] == "男" else "男")
    styles = {"date": "cn", "month": "cn", "amount": "comma"}
    s, t = _Sheet(p, styles), _Sheet(spouse, styles)
    page = Page(dpi)
    page.centered(22, "参保人员基本信息登记表", 19, bold=True)
    page.line(33, (LEFT, "（参保人及配偶）"), pt=11)
    head = [Cell("项目", align="center"), Cell("参保人", align="center"), Cell("配偶", align="center")]
    rows = [head]
    for key, label in (("name", "姓名"), ("sex", "性别"), ("birth_date", "出生日期"),
                       ("id_number", "公民身份号码"), ("phone", "联系电话")):  # fmt: skip
        rows.append([Cell(label), Cell(s.item(key, label)[1]), Cell(t.item(key, label)[1])])
    for key, label in (("address", "户籍地址"), ("employer_name", "工作单位"), ("insured_since", "参保日期"),
                       ("contribution_base", "缴费基数")):  # fmt: skip
        rows.append([Cell(label), Cell(s.item(key, label)[1], 2)])
    bottom = page.table(LEFT, 40, [36, 67, 67], rows, 11)
    page.line(bottom + 14, (LEFT, "参保人（签字）："), (110, "配偶（签字）："))
    return _doc("hn-family", "registration", [page], p["registration_date"], s, p, others=[t.fields])


# --- account statements (个人账户对账单) ----------------------------------------------------------------------


def _statement_rows(p: dict[str, Any]) -> list[dict[str, str]]:
    return [dict(r) for r in p["contributions"][-STATEMENT_ROWS:]]


def _statement_summary(s: _Sheet, rows: list[dict[str, str]]) -> None:
    total = sum((Decimal(r["total"]) for r in rows), Decimal(0))
    s.p = s.p | {"period_total": f"{total:.2f}", "period_months": str(len(rows)),
                 "period_first": rows[0]["period"], "period_last": rows[-1]["period"]}  # fmt: skip


def _contrib_cells(row: dict[str, str], cols: list[str], month: str, amount: str, status: bool) -> list[Cell]:
    out = []
    for col in cols:
        if col == "period":
            out.append(Cell(fmt_month(row["period"], month), align="center"))
        elif col == "flag":
            out.append(Cell(row["flag"], align="center"))
        elif col == "status":
            out.append(Cell("已到账", align="left"))
        else:
            out.append(Cell(fmt_amount(row[col], amount), align="right"))
    return out


def _truth_rows(rows: list[dict[str, str]], cols: list[str]) -> list[dict[str, str]]:
    return [{c: r[c] for c in cols if c != "status"} for r in rows]


def _st_zj_ruled(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    rows = _statement_rows(p)
    s = _Sheet(p | {"doc_date": p["statement_date"]}, {"date": "cn", "month": "iso", "amount": "comma"})
    _statement_summary(s, rows)
    page = Page(dpi)
    page.centered(22, "养老保险个人账户对账单", 18, bold=True)
    first, last = s.item("period_first", "对账期间")[1], s.item("period_last", "对账期间")[1]
    page.centered(31, f"对账期间：{first} 至 {last}", 11)
    _free(page, s, 40, [("name", "姓名"), ("person_code", "个人编号")], [LEFT, 105])
    _free(page, s, 47, [("id_number", "公民身份号码")], [LEFT])
    _free(page, s, 54, [("employer_name", "单位名称")], [LEFT])
    cols = ["period", "base", "employer", "personal", "total", "flag"]
    head = [Cell(t, align="center") for t in ("缴费年月", "缴费基数", "单位缴纳", "个人缴纳", "合计", "缴费标志")]
    body = [_contrib_cells(r, cols, "iso", "comma", False) for r in rows]
    bottom = page.table(LEFT, 62, [28, 30, 30, 30, 30, 22], [head, *body], 8.5, pt=11)
    _free(page, s, bottom + 9, [("period_months", "本期缴费月数"), ("months_paid", "累计缴费月数")], [LEFT, 80])
    _free(page, s, bottom + 17, [("period_total", "本期缴费合计")], [LEFT])
    _free(page, s, bottom + 31, [("doc_date", "打印日期")], [LEFT])
    return _doc("zj-ruled", "account_statement", [page], p["statement_date"], s, p,
                contributions=_truth_rows(rows, cols))  # fmt: skip


def _st_js_reordered(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    rows = _statement_rows(p)
    s = _Sheet(p | {"doc_date": p["statement_date"]}, {"date": "iso", "month": "compact", "amount": "plain"})
    _statement_summary(s, rows)
    page = Page(dpi)
    page.centered(22, "个人缴费明细表", 19, bold=True)
    head_rows = [
        [*s.cells("name", "姓名"), *s.cells("id_number", "身份证号")],
        [*s.cells("employer_name", "参保单位"), *s.cells("person_code", "个人编号")],
    ]
    bottom = page.table(LEFT, 32, [24, 56, 24, 66], head_rows, 10)
    cols = ["period", "employer", "personal", "base", "total", "flag"]
    head = [Cell(t, align="center") for t in ("费款所属期", "单位缴费", "个人缴费", "缴费基数", "缴费合计", "缴费类型")]
    body = [_contrib_cells(r, cols, "compact", "plain", False) for r in rows]
    bottom = page.table(LEFT, bottom + 8, [30, 28, 28, 30, 30, 24], [head, *body], 8.5, pt=11)
    _free(page, s, bottom + 9, [("months_paid", "累计缴费月数"), ("doc_date", "制表日期")], [LEFT, 110])
    return _doc("js-reordered", "account_statement", [page], p["statement_date"], s, p,
                contributions=_truth_rows(rows, cols))  # fmt: skip


def _st_gd_unruled(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    rows = _statement_rows(p)
    s = _Sheet(p | {"doc_date": p["statement_date"]}, {"date": "cn", "month": "cn", "amount": "comma"})
    _statement_summary(s, rows)
    page = Page(dpi)
    page.centered(22, "养老保险缴费记录", 19, bold=True)
    _free(page, s, 36, [("name", "姓名"), ("id_number", "社会保障号码")], [LEFT, 80], pt=11)
    _free(page, s, 44, [("employer_name", "用人单位")], [LEFT], pt=11)
    cols = ["period", "base", "employer", "personal", "total", "status"]
    head = [Cell(t, align="center") for t in ("所属期", "缴费基数", "单位应缴", "个人应缴", "应缴合计", "到账状态")]
    body = [_contrib_cells(r, cols, "cn", "comma", True) for r in rows]
    # The status column starts right after the amounts (a 1 mm gap): OCR sees "4,712.59 已到账" as one run.
    bottom = _unruled_table(page, LEFT, 52, [30, 30, 30, 30, 29, 20], [head, *body], 7.5)
    _free(page, s, bottom + 8, [("months_paid", "实际缴费月数"), ("doc_date", "打印日期")], [LEFT, 110], pt=11)
    return _doc("gd-unruled", "account_statement", [page], p["statement_date"], s, p,
                contributions=_truth_rows(rows, cols))  # fmt: skip


def _st_sc_status(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    rows = _statement_rows(p)
    s = _Sheet(p | {"doc_date": p["statement_date"]}, {"date": "dot", "month": "dot", "amount": "comma"})
    _statement_summary(s, rows)
    page = Page(dpi)
    page.centered(22, "个人账户对账单", 19, bold=True)
    _free(page, s, 34, [("name", "参保人姓名"), ("id_number", "公民身份号码")], [LEFT, 85], pt=11)
    _free(page, s, 42, [("employer_name", "单位名称"), ("person_code", "个人编号")], [LEFT, 130], pt=11)
    cols = ["period", "base", "employer", "personal", "total", "status", "flag"]
    head = [Cell(t, align="center") for t in ("年月", "基数", "单位部分", "个人部分", "小计", "到账情况", "备注")]
    body = [_contrib_cells(r, cols, "dot", "comma", True) for r in rows]
    bottom = page.table(LEFT, 50, [22, 27, 26, 26, 27, 22, 20], [head, *body], 8, pt=10.5)
    _free(page, s, bottom + 9, [("period_months", "本期缴费月数"), ("period_total", "本期合计")], [LEFT, 90], pt=11)
    _free(page, s, bottom + 17, [("months_paid", "累计缴费月数"), ("doc_date", "打印日期")], [LEFT, 90], pt=11)
    return _doc("sc-status", "account_statement", [page], p["statement_date"], s, p,
                contributions=_truth_rows(rows, cols))  # fmt: skip


# --- transfer forms (转移接续申请表) --------------------------------------------------------------------------


def _tr(p: dict[str, Any]) -> dict[str, Any]:
    return p | {"insured_until": p["last"]}


def _tf_zj_boxed_left(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_tr(p), {"date": "cn", "month": "iso"})
    page = Page(dpi)
    page.centered(22, "基本养老保险关系转移接续申请表", 18, bold=True)
    _free(page, s, 34, [("agency", "转出地社保经办机构")], [LEFT])
    since, until = s.item("insured_since", "参保起止")[1], s.item("insured_until", "参保起止")[1]
    rows = [
        [*s.cells("name", "姓名"), *s.cells("sex", "性别")],
        s.cells("id_number", "身份证号码", 3),
        [*s.cells("person_code", "个人编号"), *s.cells("phone", "联系电话")],
        [*s.cells("transfer_from", "转出地"), *s.cells("transfer_to", "转入地")],
        s.cells("employer_name", "转出单位", 3),
        [Cell("参保起止"), Cell(f"{since} 至 {until}"), *s.cells("months_paid", "累计缴费月数")],
        [*s.cells("transfer_date", "申请日期"), Cell("转移原因"), Cell("跨统筹区域就业")],
    ]
    bottom = page.table(LEFT, 42, [34, 51, 34, 51], rows, 11.0)
    page.line(bottom + 12, (LEFT, "申请人承诺：所提供的材料真实有效。"))
    return _doc("zj-boxed-left-transfer", "transfer_form", [page], p["transfer_date"], s, p)


def _tf_js_above(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_tr(p), {"date": "iso", "month": "cn"})
    page = Page(dpi)
    page.centered(22, "参保缴费凭证", 20, bold=True)
    rows = [
        [("name", "姓名", 1), ("sex", "性别", 1), ("id_number", "公民身份号码", 2)],
        [("person_code", "个人编号", 2), ("phone", "联系电话", 2)],
        [("transfer_from", "转出地", 2), ("transfer_to", "转入地", 2)],
        [("employer_name", "转出单位", 3), ("months_paid", "累计缴费月数", 1)],
    ]
    bottom = _grid_above(page, s, LEFT, 36, 42.5, 15, rows)
    since, until = s.item("insured_since", "参保起止")[1], s.item("insured_until", "参保起止")[1]
    page.line(bottom + 10, (LEFT, f"参保起止：{since} 至 {until}"))
    _free(page, s, bottom + 20, [("transfer_date", "申请日期")], [LEFT])
    return _doc("js-above-transfer", "transfer_form", [page], p["transfer_date"], s, p)


def _tf_sc_freetext(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_tr(p), {"date": "cn-short", "month": "cn"})
    page = Page(dpi)
    page.centered(22, "社会保险关系转移接续申请表", 18, bold=True)
    _free(page, s, 40, [("name", "姓名"), ("sex", "性别"), ("phone", "联系电话")], [LEFT, 75, 120])
    _free(page, s, 50, [("id_number", "公民身份号码"), ("person_code", "个人编号")], [LEFT, 115])
    _free(page, s, 60, [("transfer_from", "转出地"), ("transfer_to", "转入地")], [LEFT, 105])
    _free(page, s, 70, [("employer_name", "转出单位")], [LEFT])
    since, until = s.item("insured_since", "参保期间")[1], s.item("insured_until", "参保期间")[1]
    page.line(80, (LEFT, f"参保期间：{since}至{until}"), (130, "{}：{}".format(*s.item("months_paid", "缴费月数合计"))))
    page.line(95, (LEFT, "申请人承诺：所提供的材料真实有效，本人自愿申请转移社会保险关系。"), pt=11)
    _free(page, s, 110, [("transfer_date", "申请日期")], [120])
    return _doc("sc-freetext-transfer", "transfer_form", [page], p["transfer_date"], s, p)


def _tf_gd_underline(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _Sheet(_tr(p), {"date": "dot", "month": "dot"})
    page = Page(dpi)
    page.centered(22, "养老保险关系转移申请表", 19, bold=True)
    _underlined(page, s, 44, [("name", "姓名"), ("sex", "性别"), ("phone", "手机号码")], [LEFT, 80, 120])
    _underlined(page, s, 56, [("id_number", "社会保障号码")], [LEFT], end=130)
    _underlined(page, s, 68, [("transfer_from", "转出地"), ("transfer_to", "转入地")], [LEFT, 105])
    _underlined(page, s, 80, [("employer_name", "工作单位")], [LEFT])
    since, until = s.item("insured_since", "参保期间")[1], s.item("insured_until", "参保期间")[1]
    page.text(LEFT, 92, "参保期间：", 11.5)
    page.text(LEFT + 22, 91.6, f"{since}-{until}", 11.5)
    page.lines.append(f"参保期间：{since}-{until}")
    _underlined(page, s, 92, [("months_paid", "实际缴费月数")], [110])
    page.line(110, (LEFT, "申请人（签字）："), pt=11)
    _underlined(page, s, 122, [("transfer_date", "申请日期")], [110])
    return _doc("gd-underline-transfer", "transfer_form", [page], p["transfer_date"], s, p)


# --- resident ID-card copies (居民身份证复印件) ------------------------------------------------------------


def _id_back_values(p: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """签发机关 from the ID's region, validity by age at issue (GB: <26 10 years, 26-45 20 years, 46+ 长期)."""
    place = county(region_of(p["id_number"]))
    city = place.city or place.province
    district = place.district[:-1] if len(place.district) > 2 and place.district[-1] in "区县" else place.district
    authority = f"{city}公安局{district}分局" if district else f"{city}公安局"
    birth = birth_date_of(p["id_number"])
    # Second-generation cards date from 2004; a card is first issued at 16 at the latest.
    issued = date(rng.randint(max(2004, min(2023, birth.year + 16)), 2023), rng.randint(1, 12), rng.randint(1, 28))
    age = issued.year - birth.year
    years = 10 if age < 26 else 20 if age < 46 else 0
    until = issued.replace(year=issued.year + years).isoformat() if years else "长期"
    return {"issuing_authority": authority, "valid_from": issued.isoformat(), "valid_until": until}


def _card_outline(page: Page, x: float, y: float) -> None:
    page.draw.rounded_rectangle([page.px(x), page.px(y), page.px(x + _CARD_MM[0]), page.px(y + _CARD_MM[1])],
                                radius=page.px(3), outline=(120, 120, 120), width=max(2, page.px(0.3)))  # fmt: skip


def _card_front(page: Page, s: _Sheet, x: float, y: float) -> None:
    """Front side at (x, y) mm: name, sex, ethnicity, birth, address (wrapped), ID number, photo."""
    _card_outline(page, x, y)
    lx, vx = x + 5, x + 14
    page.line(y + 7, (lx, "姓名"), (vx, s.item("name", "姓名")[1]), pt=9)
    sex = s.item("sex", "性别")[1]
    s.item("ethnicity", "民族")
    nation = str(s.p["ethnicity"]).removesuffix("族")
    s.printed["ethnicity"] = nation
    page.line(y + 13.5, (lx, "性别"), (vx, sex), (x + 24, "民族"), (x + 33, nation), pt=9)
    born = s.item("birth_date", "出生")[1]
    page.line(y + 20, (lx, "出生"), (vx, born), pt=9)
    address = s.item("address", "住址")[1]
    split = 11
    page.line(y + 26.5, (lx, "住址"), (vx, address[:split]), pt=9)
    page.line(y + 31.5, (vx, address[split:]), pt=9)
    page.line(y + 45, (lx, "公民身份号码"), (x + 27, s.item("id_number", "公民身份号码")[1]), pt=10)
    page.draw.rounded_rectangle([page.px(x + 58), page.px(y + 7), page.px(x + 81), page.px(y + 37)], radius=6,
                                fill=(200, 200, 200))  # fmt: skip


def _card_back(page: Page, s: _Sheet, x: float, y: float) -> None:
    """Back side at (x, y) mm: emblem, 中华人民共和国 / 居民身份证, 签发机关, 有效期限."""
    _card_outline(page, x, y)
    page.draw.ellipse([page.px(x + 6), page.px(y + 5), page.px(x + 20), page.px(y + 19)], outline=(90, 90, 90),
                      width=max(2, page.px(0.4)))  # fmt: skip
    page.line(y + 10, (x + 28, "中华人民共和国"), pt=14, bold=True)
    page.line(y + 21, (x + 30, "居民身份证"), pt=18, bold=True)
    page.line(y + 39, (x + 18, "签发机关"), (x + 32, s.item("issuing_authority", "签发机关")[1]), pt=9)
    s.item("valid_from", "有效期限")
    until = s.p["valid_until"]
    s.fields["valid_until"], s.labels["valid_until"] = until, "有效期限"
    s.printed["valid_until"] = until if until == "长期" else fmt_date(until, "dot")
    valid = f"{s.printed['valid_from']}-{s.printed['valid_until']}"
    page.line(y + 46, (x + 18, "有效期限"), (x + 32, valid), pt=9)


def _id_sheet(p: dict[str, Any], rng: random.Random) -> _Sheet:
    s = _Sheet(p | _id_back_values(p, rng), {"date": "cn-short"})
    return s


def _id_front(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _id_sheet(p, rng)
    page = _SizedPage(dpi, _CARD_MM[0] + 8, _CARD_MM[1] + 8)
    _card_front(page, s, 4, 4)
    return _doc("idcard-front", "id_card", [page], None, s, p)


def _id_back(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _id_sheet(p, rng)
    s.styles["date"] = "dot"
    page = _SizedPage(dpi, _CARD_MM[0] + 8, _CARD_MM[1] + 8)
    _card_back(page, s, 4, 4)
    return _doc("idcard-back", "id_card", [page], None, s, p)


def _id_copy(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _id_sheet(p, rng)
    page = Page(dpi)
    page.centered(20, "居民身份证复印件", 16, bold=True)
    _card_front(page, s, 62, 40)
    s.styles["date"] = "dot"
    _card_back(page, s, 62, 115)
    page.line(190, (62, "此复印件与原件一致"), pt=12)
    page.line(200, (62, "本人签字："), pt=12)
    return _doc("idcard-copy", "id_card", [page], None, s, p)


def _id_copy_wide(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    s = _id_sheet(p, rng)
    page = Page(dpi)
    _card_front(page, s, 14, 30)
    s.styles["date"] = "dot"
    _card_back(page, s, 110, 30)
    page.line(100, (14, "复印件仅供办理社会保险业务使用，再次复印无效。"), pt=11)
    return _doc("idcard-copy-wide", "id_card", [page], None, s, p)


# --- unrelated documents (no fields) ----------------------------------------------------------------------


def _exam_paper(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    page = Page(dpi)
    page.centered(20, f"杭州市第{rng.randint(2, 18)}中学2023学年第一学期期中考试", 15, bold=True)
    page.centered(30, "高一数学试卷", 18, bold=True)
    page.line(42, (LEFT, "班别：________"), (70, "姓名：________"), (120, "学号：________"), (165, "得分：____"))
    page.line(52, (LEFT, "考试时间：2023年11月08日 08:00-10:00    满分150分"), pt=11)
    questions = [
        "一、选择题（每小题5分，共40分）",
        "1. 已知集合A={x|x²-3x+2=0}，则A的元素个数为（  ）",
        "A. 0     B. 1     C. 2     D. 3",
        f"2. 函数f(x)=log₂(x-{rng.randint(1, 5)})的定义域是（  ）",
        "3. 某班有学生48人，其中男生比女生多6人，则女生人数为（  ）",
        "4. 性别比例统计中，若男女生人数之比为5:3，则（  ）",
        "二、填空题（每小题5分，共20分）",
        f"5. 已知等差数列的首项为{rng.randint(2, 9)}，公差为3，则第10项为______。",
        "6. 请写出出生日期在1月至3月之间的同学人数______。",
    ]
    for i, q in enumerate(questions):
        page.line(66 + 10 * i, (LEFT, q), pt=11.5)
    return _doc("exam-paper", "unknown", [page], None, None, p)


def _train_ticket(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    page = _SizedPage(dpi, 87, 56)
    page.draw.rounded_rectangle([page.px(1), page.px(1), page.px(86), page.px(55)], radius=page.px(3),
                                outline=(90, 120, 150), width=2)  # fmt: skip
    serial = f"{rng.randrange(10**13):013d}"
    page.line(6, (4, f"E{serial}"), pt=8)
    page.line(14, (8, "杭州东站"), (38, f"G{rng.randint(1000, 9999)}"), (58, "上海虹桥站"), pt=13)
    page.line(19, (8, "Hangzhoudong"), (58, "Shanghaihongqiao"), pt=6)
    page.line(26, (6, f"2023年{rng.randint(1, 12):02d}月{rng.randint(1, 28):02d}日 08:15开"),
              (54, f"{rng.randint(1, 16):02d}车{rng.randint(1, 18):02d}F号"), pt=9)  # fmt: skip
    page.line(32, (6, f"¥{rng.randint(40, 600)}.00元"), (58, "二等座"), pt=9)
    page.line(37, (6, "限乘当日当次车"), pt=8)
    masked = f"{p['id_number'][:10]}****{p['id_number'][14:]}"
    page.line(43, (6, f"{masked} {p['name']}"), pt=9)
    page.line(50, (6, "买票请到12306 发货请到95306"), (54, "中国铁路祝您旅途愉快"), pt=6.5)
    return _doc("train-ticket", "unknown", [page], None, None, p)


def _notice(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    page = Page(dpi)
    page.centered(24, "关于做好2024年度社会保险缴费基数申报工作的通知", 15, bold=True)
    text = [
        "各参保单位：",
        "    根据省人力资源和社会保障厅有关规定，现就2024年度缴费基数申报工作通知如下：",
        "    一、请各单位于2024年7月31日前核对本单位参保职工的姓名、性别、出生日期、",
        "公民身份号码等基本信息，如有变动请及时办理变更登记。",
        "    二、职工月缴费基数按本人上年度月平均工资核定，低于下限的按下限申报。",
        "    三、参保单位应如实申报，不得瞒报、少报缴费基数。联系电话请见经办机构公示。",
        "    特此通知。",
    ]
    for i, row in enumerate(text):
        page.line(40 + 10 * i, (LEFT, row), pt=11.5)
    page.line(125, (120, p["agency"]), pt=11.5)
    page.line(135, (130, f"2024年6月{rng.randint(10, 28)}日"), pt=11.5)
    return _doc("notice", "unknown", [page], None, None, p)


def _honor_certificate(p: dict[str, Any], rng: random.Random, dpi: int) -> LayoutDocument:
    page = Page(dpi)
    page.centered(40, "荣誉证书", 30, bold=True)
    page.line(70, (30, f"{p['name']}同志："), pt=16)
    page.line(84, (40, f"在{rng.randint(2015, 2023)}年度工作中表现突出，成绩显著，"), pt=16)
    page.line(96, (30, "被评为“先进工作者”。"), pt=16)
    page.line(108, (40, "特发此证，以资鼓励。"), pt=16)
    page.line(140, (110, p["employer_name"]), pt=14)
    page.line(152, (125, f"{rng.randint(2016, 2024)}年{rng.randint(1, 12)}月"), pt=14)
    return _doc("honor-certificate", "unknown", [page], None, None, p)


# --- the family table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """One layout family: its form type, the county whose forms it imitates and whether it is held out."""

    name: str
    form_type: str
    site: str
    held_out: bool
    description: str
    build: Callable[[dict[str, Any], random.Random, int], LayoutDocument] = field(repr=False, compare=False)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("zj-boxed-left", "registration", "330106", False,
               "参保人员基本信息登记表, ruled table, labels left of values", _reg_zj_boxed_left),
        Family("js-above", "registration", "320102", False,
               "职工参保登记表, boxed cells with the label above the value (身份证号, 参加工作时间, 月缴费工资)",
               _reg_js_above),
        Family("sc-freetext", "registration", "510104", False,
               "社会保险参保人员登记表, colon-separated free text, no rules", _reg_sc_freetext),
        Family("two-person", "registration", "430102", False,
               "参保人 and 配偶 blocks one below the other, same labels twice", _reg_two_person),
        Family("gd-underline", "registration", "440305", True,
               "社会保险登记表, values on underlines (社会保障号码, 首次参保年月, 月缴费基数)", _reg_gd_underline),
        Family("hn-family", "registration", "430102", True,
               "参保人员基本信息登记表 with 参保人 and 配偶 value columns right of one label column", _reg_hn_family),
        Family("zj-ruled", "account_statement", "330106", False,
               "养老保险个人账户对账单, ruled table in the usual column order", _st_zj_ruled),
        Family("js-reordered", "account_statement", "320102", False,
               "个人缴费明细表, ruled header table, reordered columns (费款所属期 ... 缴费类型)", _st_js_reordered),
        Family("sc-status", "account_statement", "510104", False,
               "个人账户对账单, ruled, a 到账情况 column (已到账) between 小计 and 备注", _st_sc_status),
        Family("gd-unruled", "account_statement", "440305", True,
               "养老保险缴费记录, table of aligned text without rules, 到账状态 right after the amount",
               _st_gd_unruled),
        Family("zj-boxed-left-transfer", "transfer_form", "330106", False,
               "基本养老保险关系转移接续申请表, ruled label-left table", _tf_zj_boxed_left),
        Family("js-above-transfer", "transfer_form", "320102", False,
               "参保缴费凭证, boxed cells with labels above values", _tf_js_above),
        Family("sc-freetext-transfer", "transfer_form", "510104", False,
               "社会保险关系转移接续申请表, colon-separated free text", _tf_sc_freetext),
        Family("gd-underline-transfer", "transfer_form", "440305", True,
               "养老保险关系转移申请表, values on underlines (社会保障号码, 参保期间, 实际缴费月数)", _tf_gd_underline),
        Family("idcard-front", "id_card", "330106", False, "ID card front, cropped copy", _id_front),
        Family("idcard-back", "id_card", "320102", False, "ID card back, cropped copy", _id_back),
        Family("idcard-copy-wide", "id_card", "510104", False,
               "both sides side by side on an A4 copy", _id_copy_wide),
        Family("idcard-copy", "id_card", "440305", True,
               "居民身份证复印件: both sides one below the other on A4, attested", _id_copy),
        Family("exam-paper", "unknown", "330106", False, "an exam paper with blank 班别/姓名/学号 lines",
               _exam_paper),
        Family("notice", "unknown", "320102", False, "a notice naming 姓名/性别/出生日期 in prose", _notice),
        Family("train-ticket", "unknown", "440305", True, "a train ticket (masked ID and a name, no labels)",
               _train_ticket),
        Family("honor-certificate", "unknown", "510104", True, "荣誉证书: '<name>同志：' and prose",
               _honor_certificate),
    )
}  # fmt: skip

DEVELOPMENT: tuple[str, ...] = tuple(n for n, f in FAMILIES.items() if not f.held_out)
HELD_OUT: tuple[str, ...] = tuple(n for n, f in FAMILIES.items() if f.held_out)


def families(which: str = "all", form_type: str | None = None) -> list[str]:
    """Family names of a set: ``dev``, ``held-out`` or ``all``, optionally of one form type."""
    names = {"dev": DEVELOPMENT, "held-out": HELD_OUT, "all": tuple(FAMILIES)}.get(which)
    if names is None:
        raise ValueError(f"unknown family set {which!r}: use dev, held-out or all")
    return [n for n in names if form_type is None or FAMILIES[n].form_type == form_type]


def generate(family: str, seed: int = 0, *, dpi: int = 200) -> LayoutDocument:
    """One document of ``family``; deterministic per ``(family, seed, dpi)``."""
    fam = FAMILIES.get(family)
    if fam is None:
        raise ValueError(f"unknown layout family {family!r}; known: {', '.join(FAMILIES)}")
    rng = random.Random(f"layout:{family}:{seed}")
    doc = fam.build(_person(rng, seed, fam.site), rng, dpi)
    doc.family, doc.seed = family, seed
    return doc
