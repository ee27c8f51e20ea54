"""Object-key validation: anything accepted stays inside the store root."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dangan.errors import UnsafePath
from dangan.storage import is_protected, validate_key
from dangan.storage.base import validate_metadata


@pytest.mark.parametrize("key", ["a", "330106/masters/p0001.tif", "西湖区/档案.pdf", "a.b/c-d_e f", "x" * 1024])
def test_good_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "/a", "a/", "a//b", "..", "a/..", "../a", "./a", "a\\..\\b", "a\x00", "a\nb", "a\x7f", "é" * 513],
)
def test_bad_keys(key: str) -> None:
    with pytest.raises(UnsafePath):
        validate_key(key)


def test_error_message_masks_resident_ids() -> None:
    with pytest.raises(UnsafePath) as err:
        validate_key("../11010519491231002X/p1.tif")
    assert "11010519491231002X" not in str(err.value)
    assert "110105********002X" in str(err.value)


@given(st.text(min_size=1, max_size=60))
def test_accepted_keys_never_escape_the_root(key: str) -> None:
    try:
        validate_key(key)
    except UnsafePath:
        return
    root = PurePosixPath("/store")
    joined = PurePosixPath(os.path.normpath(root / key))
    assert joined.is_relative_to(root) and joined != root
    assert str(root / key) == f"/store/{key}"  # no normalisation needed: the key is already canonical


def test_protected_prefixes() -> None:
    assert is_protected("330106/masters/p.tif", ("/masters/",))
    assert is_protected("masters/p.tif", ("/masters/",))
    assert not is_protected("330106/mastersx/p.tif", ("/masters/",))
    assert not is_protected("330106/derivatives/masters.tif", ("/masters/",))


@pytest.mark.parametrize("meta", [{"Upper": "x"}, {"sha256": "x"}, {"ok": "中文"}, {"ok": "a\nb"}, {"": "x"}])
def test_bad_metadata(meta: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        validate_metadata(meta)
