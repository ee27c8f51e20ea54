"""Random but valid insured persons and their contribution history, drawn from one ``random.Random``.

Every value is a plain string (amounts as decimal strings, dates ISO 8601) so a person dict can be written
to JSON as is. Dates never depend on the clock: the latest contribution period is in 2024.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dangan.ids import make_id
from dangan.samples.regions import COUNTIES, OTHER_ORIGINS, County, county

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩俊峰建国志文海亮晨阳东林"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪琳慧颖倩洁欣悦佳红梅兰秀丹萍莉云晶"
ETHNIC_MINOR = ("回族", "满族", "壮族", "土家族", "畲族", "苗族")
PHONE_PREFIXES = ("138", "139", "135", "136", "137", "150", "151", "158", "159", "186", "187", "188", "177", "199")
STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文一路", "学院路", "延安路", "长江路")
FIRM_WORDS = ("精密", "恒信", "华顺", "远景", "博达", "新宇", "金诚", "天成", "瑞丰", "宏达")
FIRM_TRADES = ("机械", "电子科技", "纺织", "建筑工程", "物流", "食品", "信息技术", "服装", "医药", "包装")
INSURANCE_TYPES = (  # (险种, dossier category), weighted towards pensions like real archives
    ("企业职工基本养老保险", "养老保险"),
    ("企业职工基本养老保险", "养老保险"),
    ("企业职工基本养老保险", "养老保险"),
    ("职工基本医疗保险", "医疗保险"),
    ("工伤保险", "工伤保险"),
    ("失业保险", "失业保险"),
)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
EMPLOYER_RATE = Decimal("0.16")
PERSONAL_RATE = Decimal("0.08")
CENT = Decimal("0.01")
LAST_PERIOD_CHOICES = ("2023-12", "2024-03", "2024-06", "2024-09")


def uscc(rng: random.Random, region: str) -> str:
    """统一社会信用代码 (GB 32100-2015) shape with a correct check character; the body is random."""
    body = "91" + region + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def add_months(period: str, months: int) -> str:
    """``"2023-11"`` + 3 → ``"2024-02"``."""
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> int:
    """Inclusive number of months from ``first`` to ``last`` (YYYY-MM)."""
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def money(value: Decimal) -> str:
    """Plain decimal string with cents, as stored in ground truth (``15380.00``)."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _base_for_year(base_2024: int, year: int) -> Decimal:
    # Bases rise about 5 % a year; go backwards from the 2024 base so every document agrees.
    return Decimal(max(800, round(base_2024 * 0.95 ** (2024 - year))))


def _contributions(rng: random.Random, base_2024: int, last: str, rows: int, gap: bool) -> dict[str, Any]:
    span = rows + (1 if gap else 0)
    periods = [add_months(last, -k) for k in range(span - 1, -1, -1)]
    gaps: list[str] = []
    if gap:
        gaps.append(periods.pop(rng.randint(3, len(periods) - 4)))
    late = rng.randrange(len(periods)) if rng.random() < 0.4 else -1
    table = []
    for i, period in enumerate(periods):
        base = _base_for_year(base_2024, int(period[:4]))
        employer = (base * EMPLOYER_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        personal = (base * PERSONAL_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        table.append(
            {
                "period": period,
                "base": money(base),
                "employer": money(employer),
                "personal": money(personal),
                "total": money(employer + personal),
                "flag": "补缴" if i == late else "正常",
            }
        )
    return {"first": periods[0], "last": last, "gaps": gaps, "contributions": table}


def make_person(rng: random.Random, index: int, site: str, *, long_statement: bool) -> dict[str, Any]:
    """One insured person with everything the three form types show (values as printed, ISO dates)."""
    here = county(site)
    sex = rng.choice(("男", "女"))
    given = GIVEN_MALE if sex == "男" else GIVEN_FEMALE
    surname = "欧阳" if rng.random() < 0.03 else rng.choice(SURNAMES)
    name = surname + "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange((date(2000, 12, 31) - date(1960, 1, 1)).days + 1))
    # Most insured persons were born locally; the rest moved here from other provinces.
    local = rng.random() < 0.6 or site not in COUNTIES
    origin = here if local else COUNTIES[rng.choice(OTHER_ORIGINS)]
    id_number = make_id(origin.code, birth, rng.randrange(500), sex)
    insured_year = min(2021, max(1995, birth.year + rng.randint(18, 26)))
    insured_since = f"{insured_year}-{rng.randint(1, 12):02d}"
    base_2024 = rng.randint(4462, 24930)
    insurance_type, category = rng.choice(INSURANCE_TYPES)
    last = rng.choice(LAST_PERIOD_CHOICES)
    rows = rng.randint(16, 24) if long_statement else rng.randint(12, 24)
    history = _contributions(rng, base_2024, last, rows, gap=index % 3 == 1 or rng.random() < 0.3)
    months_paid = months_between(insured_since, last) - len(history["gaps"])
    print_date = date(int(add_months(last, 1)[:4]), int(add_months(last, 1)[5:7]), rng.randint(1, 28))
    apply_date = print_date + timedelta(days=rng.randint(3, 60))
    dest = origin if origin.code != here.code else COUNTIES[rng.choice(OTHER_ORIGINS)]
    return {
        "index": index,
        "name": name,
        "sex": sex,
        "ethnicity": "汉族" if rng.random() < 0.9 else rng.choice(ETHNIC_MINOR),
        "birth_date": birth.isoformat(),
        "id_number": id_number,
        "id_label": ("公民身份号码", "身份证号码", "社会保障号码")[index % 3],
        "phone": rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
        "address": _address(rng, origin),
        "employer_name": f"{here.short}{rng.choice(FIRM_WORDS)}{rng.choice(FIRM_TRADES)}有限公司",
        "employer_code": uscc(rng, here.code),
        "person_code": site[:4] + f"{rng.randrange(10**8):08d}",
        "insured_since": insured_since,
        "contribution_base": money(_base_for_year(base_2024, insured_year)),
        "insurance_type": insurance_type,
        "dossier_category": category,
        "insured_status": rng.choice(("正常参保", "正常参保", "参保缴费")),
        "payment_status": rng.choice(("正常缴费", "正常缴费", "中断缴费")) if history["gaps"] else "正常缴费",
        "registration_date": f"{insured_since}-{rng.randint(1, 28):02d}",
        "agency": f"{here.full_name}社会保险事业管理中心",
        "statement_date": print_date.isoformat(),
        "months_paid": str(months_paid),
        "transfer_from": here.full_name,
        "transfer_to": dest.full_name,
        "transfer_date": apply_date.isoformat(),
        **history,
    }


def _address(rng: random.Random, place: County) -> str:
    prefix = place.province + (place.city if place.city else "") + place.district
    room = f"{rng.randint(1, 24)}0{rng.randint(1, 4)}"
    return f"{prefix}{rng.choice(STREETS)}{rng.randint(1, 399)}号{rng.randint(1, 12)}幢{room}室"
