"""A small table of real GB/T 2260 county codes and names used to make sample documents look local."""

from __future__ import annotations

from dataclasses import dataclass

from dangan.ids import PROVINCE_CODES


@dataclass(frozen=True)
class County:
    """A county-level division: ``city`` is empty for the districts of a municipality."""

    code: str
    province: str
    city: str
    district: str

    @property
    def full_name(self) -> str:
        """Name as printed on forms, e.g. ``杭州市西湖区`` or ``北京市朝阳区``."""
        return (self.city or self.province) + self.district

    @property
    def short(self) -> str:
        """City + district without suffixes, the usual prefix of company names (``杭州西湖``)."""
        city = (self.city or self.province).removesuffix("市")
        district = self.district
        if len(district) > 2 and district[-1] in "区县市":
            district = district[:-1]
        return city + district


_TABLE = [
    ("330106", "浙江省", "杭州市", "西湖区"),
    ("330102", "浙江省", "杭州市", "上城区"),
    ("330105", "浙江省", "杭州市", "拱墅区"),
    ("330108", "浙江省", "杭州市", "滨江区"),
    ("330110", "浙江省", "杭州市", "余杭区"),
    ("330212", "浙江省", "宁波市", "鄞州区"),
    ("330302", "浙江省", "温州市", "鹿城区"),
    ("110105", "北京市", "", "朝阳区"),
    ("110108", "北京市", "", "海淀区"),
    ("310104", "上海市", "", "徐汇区"),
    ("310115", "上海市", "", "浦东新区"),
    ("440305", "广东省", "深圳市", "南山区"),
    ("440106", "广东省", "广州市", "天河区"),
    ("320102", "江苏省", "南京市", "玄武区"),
    ("320506", "江苏省", "苏州市", "吴中区"),
    ("340104", "安徽省", "合肥市", "蜀山区"),
    ("360102", "江西省", "南昌市", "东湖区"),
    ("410105", "河南省", "郑州市", "金水区"),
    ("420106", "湖北省", "武汉市", "武昌区"),
    ("430102", "湖南省", "长沙市", "芙蓉区"),
    ("500103", "重庆市", "", "渝中区"),
    ("510104", "四川省", "成都市", "锦江区"),
]
COUNTIES: dict[str, County] = {row[0]: County(*row) for row in _TABLE}

#: Codes most non-local persons come from (besides other Zhejiang districts).
OTHER_ORIGINS = ("110105", "310104", "440305", "320102", "340104", "360102", "410105", "420106", "510104")

_PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省",
    "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省",
    "35": "福建省", "36": "江西省", "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省",
    "44": "广东省", "45": "广西壮族自治区", "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省",
    "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip


def county(code: str) -> County:
    """The county for ``code``; an unknown but well-formed code is named after its province only."""
    if code in COUNTIES:
        return COUNTIES[code]
    if len(code) != 6 or not code.isdigit() or code[:2] not in PROVINCE_CODES:
        raise ValueError(f"not a GB/T 2260 county code: {code!r}")
    return County(code, _PROVINCES[code[:2]], "", "")
