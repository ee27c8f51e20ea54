"""The three sample form types, laid out on A4 pages from a person dict (see :mod:`.persons`).

Each builder returns a :class:`Document`: rendered pages plus the ground-truth fields the form shows, in
their stored form (ISO dates, plain decimal amounts), while the page shows them as printed (``15,380.00``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from dangan.samples.render import Cell, Page

LEFT = 20.0
ROWS_PER_PAGE = 15  # statement rows that fit under the header; longer statements go on to a second page


@dataclass
class Document:
    """One scanned document: its pages and what a perfect reader would extract from it."""

    form_type: str
    pages: list[Page]
    doc_date: str
    fields: dict[str, str] = field(default_factory=dict)
    contributions: list[dict[str, str]] = field(default_factory=list)


def amount(value: str) -> str:
    """Printed form of an amount: thousands separators and cents (``15,380.00``)."""
    return f"{Decimal(value):,.2f}"


def cn_date(iso: str) -> str:
    """``2024-03-05`` → ``2024年03月05日``."""
    return f"{date.fromisoformat(iso):%Y年%m月%d日}"


def _cn_month(period: str) -> str:
    return f"{period[:4]}年{period[5:7]}月"


def _labels(row: list[str | tuple[str, int]]) -> list[Cell]:
    return [Cell(c) if isinstance(c, str) else Cell(c[0], c[1]) for c in row]


def registration(p: dict[str, Any], dpi: int, stamp: bool) -> Document:
    """参保人员登记表: a ruled label/value table."""
    page = Page(dpi)
    page.centered(22, "参保人员登记表", 20, bold=True)
    page.line(34, (LEFT, f"经办机构：{p['agency']}"), (128, f"填表日期：{cn_date(p['registration_date'])}"))
    since = _cn_month(p["insured_since"]) if p["index"] % 2 else p["insured_since"]
    rows = [
        ["姓名", p["name"], "性别", p["sex"], "民族", p["ethnicity"]],
        ["出生日期", p["birth_date"], p["id_label"], (p["id_number"], 3)],
        ["联系电话", p["phone"], "个人编号", (p["person_code"], 3)],
        ["户籍地址", (p["address"], 5)],
        ["单位名称", (p["employer_name"], 5)],
        ["单位编号", (p["employer_code"], 2), "参保日期", (since, 2)],
        ["缴费基数", amount(p["contribution_base"]), "险种", (p["insurance_type"], 3)],
        ["参保状态", p["insured_status"], "缴费状态", (p["payment_status"], 3)],
    ]
    bottom = page.table(LEFT, 42, [28, 36, 30, 34, 18, 24], [_labels(r) for r in rows], 10.5)
    y = bottom + 12
    page.line(y, (LEFT, "本人承诺：以上填报信息真实、准确，如有虚假愿承担相应法律责任。"))
    page.line(y + 14, (LEFT, "申报人（签字）："), (110, "单位经办人："))
    page.line(y + 28, (LEFT, "单位（盖章）："), (110, "社保经办人："))
    page.line(270, (LEFT, "注：本表一式两份，社保经办机构与参保单位各存一份。"), pt=10.5)
    if stamp:
        page.stamp(60, y + 32, p["employer_name"])
    keys = ("name", "sex", "ethnicity", "birth_date", "id_number", "phone", "address", "employer_name",
            "employer_code", "person_code", "insured_since", "contribution_base", "insurance_type",
            "insured_status", "payment_status")  # fmt: skip
    return Document("registration", [page], p["registration_date"], {k: p[k] for k in keys})


def account_statement(p: dict[str, Any], dpi: int, stamp: bool) -> Document:
    """个人账户对账单: header fields and a monthly contribution table, over one or two pages."""
    rows: list[dict[str, str]] = p["contributions"]
    chunks = [rows] if len(rows) <= ROWS_PER_PAGE else [rows[: (len(rows) + 1) // 2], rows[(len(rows) + 1) // 2 :]]
    title = "企业职工基本养老保险个人账户对账单"
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        page = Page(dpi)
        page.centered(22, title if number == 1 else f"{title}（续）", 18, bold=True)
        page.centered(31, f"对账期间：{p['first']} 至 {p['last']}", 11)
        page.line(40, (LEFT, f"姓名：{p['name']}"), (105, f"个人编号：{p['person_code']}"))
        y = 40.0
        if number == 1:
            page.line(47, (LEFT, f"身份证号码：{p['id_number']}"))
            page.line(54, (LEFT, f"单位名称：{p['employer_name']}"))
            y = 54.0
        header = [Cell(t, align="center") for t in ("缴费年月", "缴费基数", "单位缴纳", "个人缴纳", "合计", "缴费标志")]
        body = [
            [Cell(r["period"], align="center"), *(Cell(amount(r[k]), align="right")
             for k in ("base", "employer", "personal", "total")), Cell(r["flag"], align="center")]
            for r in chunk
        ]  # fmt: skip
        bottom = page.table(LEFT, y + 8, [28, 30, 30, 30, 30, 22], [header, *body], 8.5, pt=11)
        if number == len(chunks):
            total = sum((Decimal(r["total"]) for r in rows), Decimal(0))
            page.line(bottom + 9, (LEFT, f"本期缴费月数：{len(rows)}"), (80, f"累计缴费月数：{p['months_paid']}"))
            page.line(bottom + 17, (LEFT, f"本期缴费合计：{amount(str(total))}"))
            page.line(bottom + 31, (LEFT, f"打印日期：{cn_date(p['statement_date'])}"),
                      (105, "经办机构（业务专用章）"))  # fmt: skip
            if stamp:
                page.stamp(140, bottom + 31, p["agency"])
        if len(chunks) > 1:
            page.centered(285, f"第 {number} 页 共 {len(chunks)} 页", 10)
        pages.append(page)
    fields = {k: p[k] for k in ("name", "id_number", "employer_name", "person_code", "months_paid")}
    return Document("account_statement", pages, p["statement_date"], fields, list(rows))


def transfer_form(p: dict[str, Any], dpi: int, stamp: bool) -> Document:
    """社会保险关系转移接续申请表."""
    page = Page(dpi)
    page.centered(22, "基本养老保险关系转移接续申请表", 18, bold=True)
    page.line(34, (LEFT, f"转出地社保经办机构：{p['agency']}"))
    rows = [
        ["姓名", p["name"], "性别", p["sex"]],
        ["公民身份号码", (p["id_number"], 3)],
        ["个人编号", p["person_code"], "联系电话", p["phone"]],
        ["转出地", p["transfer_from"], "转入地", p["transfer_to"]],
        ["转出单位", (p["employer_name"], 3)],
        ["参保起止", f"{p['insured_since']} 至 {p['last']}", "累计缴费月数", p["months_paid"]],
        ["申请日期", cn_date(p["transfer_date"]), "转移原因", "跨统筹区域就业"],
    ]
    bottom = page.table(LEFT, 42, [34, 51, 34, 51], [_labels(r) for r in rows], 11.0)
    y = bottom + 12
    page.line(y, (LEFT, "申请人承诺：所提供的材料真实有效，本人自愿申请转移社会保险关系。"))
    page.line(y + 14, (LEFT, "申请人（签字）："), (110, f"日期：{cn_date(p['transfer_date'])}"))
    page.line(y + 30, (LEFT, "转出地经办机构意见：同意转出。"))
    page.line(y + 44, (LEFT, "经办人："), (110, "（盖章）"))
    if stamp:
        page.stamp(130, y + 40, p["agency"])
    keys = ("name", "sex", "id_number", "person_code", "phone", "employer_name", "insured_since", "months_paid",
            "transfer_from", "transfer_to", "transfer_date")  # fmt: skip
    fields = {k: p[k] for k in keys} | {"insured_until": p["last"]}
    return Document("transfer_form", [page], p["transfer_date"], fields)


def blank_page(dpi: int, doc_date: str) -> Document:
    """A page with nothing on it (a separator sheet scanned by mistake)."""
    return Document("unknown", [Page(dpi)], doc_date)
