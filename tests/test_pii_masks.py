"""Masks never reveal more characters than they hide, and have one ``*`` per hidden character."""

from __future__ import annotations

import pytest

from dangan.pii import (
    PERSONAL_FIELDS,
    Masker,
    mask_address,
    mask_field,
    mask_id,
    mask_name,
    mask_phone,
    scrub,
)

RID = "33010619860507822X"


def _shown(masked: str) -> int:
    return sum(ch != "*" for ch in masked)


def test_names_show_at_most_the_first_character() -> None:
    assert mask_name("钟燕") == "钟*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("张") == "*"
    # a name field holding a misread line: keeping two characters showed the whole name 钟燕
    value = "钟燕 女 汉族 1986年"
    assert mask_name(value) == "钟" + "*" * (len(value) - 1)


@pytest.mark.parametrize(
    "value",
    [
        *("钟燕", "欧阳娜娜", "张", "钟燕 女 汉族", "13812345678", "0571-87654321", "浙江省杭州市西湖区长江路8号"),
        *("1986-05-07", "苗族", "330159127085", "12", "123", "33010682120702", "330106821207023"),
    ],
)
@pytest.mark.parametrize("field", sorted(PERSONAL_FIELDS))
def test_every_field_mask_hides_at_least_as_much_as_it_shows(field: str, value: str) -> None:
    masked = mask_field(field, value)
    assert masked is not None and len(masked) == len(value)  # one * per hidden character, never a fixed length
    assert _shown(masked) <= len(value) - _shown(masked), (field, value, masked)


def test_resident_ids_keep_the_project_convention_and_other_lengths_keep_less() -> None:
    assert mask_id(RID) == "330106********822X"  # the shared display convention (README: first 6, last 4)
    assert mask_id("330106860507822") == "330106*********"  # 15-digit ID: first 6 only (showing 10 of 15 leaked)
    assert mask_id("13812345678") == "13812******"  # a phone in the ID field: at most half
    assert mask_phone("13812345678") == "138******78"
    assert mask_address("浙江省杭州市西湖区长江路8号") == "浙江省杭州市" + "*" * 8


def test_free_text_masks_mobile_numbers_and_short_id_pieces() -> None:
    assert scrub("电话 18882619427，") == "电话 188******27，"
    # a leading piece of a known ID cut by a snippet edge: at most half of it shown
    assert Masker(ids=[RID])(f"号码{RID[:10]}") == f"号码{RID[:5]}*****"
