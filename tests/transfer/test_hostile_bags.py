"""Bags an attacker would build to crash the receiver rather than fool it: each ends as a coded refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.transfer import bag as bagmod
from dangan.transfer import check_folder, export_package, import_package
from dangan.transfer.errors import BagRefused
from dangan.transfer.keys import Trust
from tests.transfer.archive import DST, SRC, make_archive, row_counts
from tests.transfer.conftest import FAST
from tests.transfer.test_package import rebag


@pytest.mark.parametrize("path", [bagmod.FIELDS_PATH, bagmod.CATALOG_PATH, bagmod.SIGNATURE_NAME])
def test_absurdly_nested_json_is_refused_not_a_recursion_error(
    settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path, path: str
) -> None:
    src, dst = sites
    archive = make_archive(src, 41)
    folder = Path(export_package(settings, archive.resident_id, SRC, tmp_path / "bag", to_site=DST)["path"])
    (folder / path).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    rebag(folder)
    report = check_folder(folder, trust=Trust(settings))
    assert not report.ok
    codes = {(p.file, p.code) for p in report.problems}
    expected = "SIGNATURE_MALFORMED" if path == bagmod.SIGNATURE_NAME else "METADATA_INVALID"
    assert (path, expected) in codes, report.problems
    with pytest.raises(BagRefused):
        import_package(settings, folder, DST, retry=FAST)
    assert row_counts(dst.catalog_url, DST)["persons"] == 0
