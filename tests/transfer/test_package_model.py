"""The package and receipt contracts: format and version checked on read, older packages migrated, the rest refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, FieldValue, OcrResult, Page
from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.transfer import bag as bagmod
from dangan.transfer import check_folder, export_package, import_package, verify_receipt
from dangan.transfer.archive import FORMAT, VERSION, ArchivePackage, package_version
from dangan.transfer.errors import (
    ReceiptInvalid,
    ReceiptVersionUnsupported,
    TransferPackageFormat,
    TransferPackageInvalid,
    TransferPackageVersion,
)
from dangan.transfer.keys import Trust, signer
from dangan.transfer.receipt import Receipt
from dangan.transfer.signature import sign_bag
from dangan.transfer.snapshot import snapshot
from tests.transfer.archive import DST, SRC, make_archive, row_counts
from tests.transfer.conftest import FAST
from tests.transfer.test_package import rebag

RID = "330106194912310029"


def documents_v1() -> tuple[dict[str, object], list[object], list[object]]:
    """A package as dangan wrote it before versions: no ``version``, no OCR version/digests/hOCR, no field flags."""
    catalog: dict[str, object] = {
        "format": FORMAT,
        "source_site": SRC,
        "transfer_id": "t1",
        "person": {"resident_id": RID, "resident_id_masked": "330106********0029", "name": "张三"},
        "dossiers": [{"ref": "d1", "category": "养老保险", "retention": "permanent"}],
        "documents": [
            {
                "ref": "doc1",
                "dossier": "d1",
                "batch": "b1",
                "source_file": "reg.png",
                "form_type": "registration",
                "doc_date": "2020-01-01",
                "expected_pages": None,
                "page_count": 1,
                "status": "validated",
            }
        ],
        "masters": [
            {
                "ref": "m1",
                "sha256": "a" * 64,
                "size": 10,
                "format": "png",
                "path": f"data/masters/{'a' * 64}.png",
                "source_key": "sites/330106/masters/aa/a.png",
                "original_name": "reg.png",
                "page_count": 1,
                "batch": "b1",
            }
        ],
        "pages": [
            {
                "ref": "p1",
                "master": "m1",
                "page_index": 0,
                "document": "doc1",
                "seq": 1,
                "width": 64,
                "height": 48,
                "dpi": 300.0,
                "color_mode": "gray",
                "status": "ocr_done",
                "metrics": {"blur": 0.5},
            }
        ],
        "derivatives": [],
    }
    ocr: list[object] = [
        {
            "page": "p1",
            "engine": "ppocr",
            "model": "v5",
            "model_sha256": {},
            "device": "cpu",
            "text": "参保人",
            "lines": [],
            "seconds": 0.5,
            "error": None,
            "is_current": True,
            "path": None,
            "source_key": None,
        }
    ]
    fields: list[object] = [
        {
            "document": "doc1",
            "page": "p1",
            "name": "name",
            "value": "张三",
            "confidence": 0.98,
            "box": [1, 2, 3, 4],
            "source": "extracted",
            "version": 1,
            "is_current": True,
        }
    ]
    return catalog, ocr, fields


def test_a_package_made_before_versions_is_migrated() -> None:
    catalog, ocr, fields = documents_v1()
    before = copy.deepcopy((catalog, ocr, fields))
    package = ArchivePackage.from_documents(catalog, ocr, fields)
    assert (catalog, ocr, fields) == before  # the caller's documents are not rewritten
    assert package.catalog.version == VERSION == 2
    assert package.catalog.masters[0].retain_until is None
    (reading,) = package.ocr
    assert reading.identity == ("ppocr", "v5", 1)  # one reading per engine + model before OCR versions
    assert (reading.sha256, reading.hocr_path, reading.hocr_sha256) == (None, None, None)
    assert package.fields[0].flags == []
    assert package.counts() == {
        "dossiers": 1,
        "documents": 1,
        "masters": 1,
        "pages": 1,
        "derivatives": 0,
        "ocr_results": 1,
        "fields": 1,
    }


def test_round_trip_is_byte_stable() -> None:
    package = ArchivePackage.from_documents(*documents_v1())
    files = package.documents()
    assert list(files) == list(bagmod.METADATA_PATHS)
    assert json.loads(files[bagmod.CATALOG_PATH])["version"] == VERSION
    again = ArchivePackage.from_bytes(*files.values())
    assert again == package and again.documents() == files


def test_round_trip_of_a_real_snapshot(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, _ = sites
    archive = make_archive(src, 61)
    with session_scope(src.catalog_url) as s:
        package = snapshot(s, SRC, archive.resident_id).for_transfer("t61")
    files = package.documents()
    assert ArchivePackage.from_bytes(*files.values()) == package
    assert package.catalog.transfer_id == "t61" and package.counts()["pages"] == archive.pages
    assert all(o.hocr_path and o.hocr_sha256 for o in package.ocr)  # every object the receiver will name
    assert len(package.object_sources()) == len(package.binary_entries()) == 4 * archive.pages


@pytest.mark.parametrize("version", [VERSION + 1, 0, "2", True, None])
def test_an_unknown_version_is_refused_with_its_code(version: object) -> None:
    catalog, ocr, fields = documents_v1()
    catalog["version"] = version
    with pytest.raises(TransferPackageVersion) as info:
        ArchivePackage.from_documents(catalog, ocr, fields)
    assert info.value.code == "TRANSFER_PACKAGE_VERSION"
    assert "升级" in (info.value.hint or "") and "Upgrade" in (info.value.hint or "")


@pytest.mark.parametrize("fmt", ["dangan-archive/2", "something-else", None])
def test_another_format_is_refused(fmt: object) -> None:
    catalog, ocr, fields = documents_v1()
    catalog["format"] = fmt
    with pytest.raises(TransferPackageFormat) as info:
        ArchivePackage.from_documents(catalog, ocr, fields)
    assert info.value.code == "TRANSFER_PACKAGE_FORMAT" and info.value.details["file"] == bagmod.CATALOG_PATH
    assert package_version(documents_v1()[0]) == 1


def test_a_tampered_field_type_is_refused_naming_where_not_what() -> None:
    catalog, ocr, fields = documents_v1()
    catalog["pages"][0]["page_index"] = "0"  # type: ignore[index]
    catalog["person"]["resident_id"] = 330106194912310029  # type: ignore[index]
    with pytest.raises(TransferPackageInvalid) as info:
        ArchivePackage.from_documents(catalog, ocr, fields)
    assert info.value.code == "TRANSFER_PACKAGE_INVALID" and info.value.details["file"] == bagmod.CATALOG_PATH
    assert "pages.0.page_index" in info.value.message and "person.resident_id" in info.value.message
    assert RID not in str(info.value)  # the offending value may be personal data: never echoed
    catalog, ocr, fields = documents_v1()
    fields[0]["flags"] = "CONFLICT"  # type: ignore[index]
    with pytest.raises(TransferPackageInvalid) as info:
        ArchivePackage.from_documents(catalog, ocr, fields)
    assert info.value.details["file"] == bagmod.FIELDS_PATH
    catalog, ocr, fields = documents_v1()
    catalog["pages"][0]["surprise"] = 1  # type: ignore[index]
    with pytest.raises(TransferPackageInvalid, match="surprise"):  # a shape change needs a version
        ArchivePackage.from_documents(catalog, ocr, fields)


def _downgrade_to_v1(settings: Settings, folder: Path) -> None:
    """Rewrite an exported bag as dangan wrote it before versions (and before hOCR), re-signed by its source."""
    catalog = json.loads((folder / bagmod.CATALOG_PATH).read_bytes())
    ocr = json.loads((folder / bagmod.OCR_PATH).read_bytes())
    fields = json.loads((folder / bagmod.FIELDS_PATH).read_bytes())
    del catalog["version"]
    for m in catalog["masters"]:
        del m["retain_until"]
    for o in ocr:
        (folder / o["hocr_path"]).unlink()
        for key in ("version", "sha256", "size", "hocr_sha256", "hocr_size", "hocr_path", "hocr_source_key"):
            del o[key]
    for f in fields:
        del f["flags"]
    for path, doc in ((bagmod.CATALOG_PATH, catalog), (bagmod.OCR_PATH, ocr), (bagmod.FIELDS_PATH, fields)):
        (folder / path).write_bytes(json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode())
    rebag(folder)
    statement = json.loads((folder / bagmod.SIGNATURE_NAME).read_bytes())["statement"]
    tags = {n: (folder / n).read_bytes() for n in bagmod.tag_file_names(bagmod.KNOWN) if (folder / n).exists()}
    (folder / bagmod.SIGNATURE_NAME).write_bytes(
        sign_bag(
            tags,
            (folder / bagmod.CATALOG_PATH).read_bytes(),
            transfer_id=statement["transfer_id"],
            source=SRC,
            destination=DST,
            signed_at=statement["signed_at"],
            signer=signer(settings, SRC),
        )
    )


def test_a_bag_made_before_versions_imports(settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path) -> None:
    src, dst = sites
    archive = make_archive(src, 62)
    folder = Path(export_package(settings, archive.resident_id, SRC, tmp_path / "bag", to_site=DST)["path"])
    _downgrade_to_v1(settings, folder)
    report = check_folder(folder, trust=Trust(settings))
    assert report.ok, report.problems
    assert report.package is not None and report.package.catalog.version == VERSION
    out = import_package(settings, folder, DST, retry=FAST)
    assert out.state == "done", out.problems
    assert row_counts(dst.catalog_url, DST)["pages"] == archive.pages
    with session_scope(dst.catalog_url) as s:
        readings = s.scalars(select(OcrResult).join(Page).where(Page.site_code == DST)).all()
        assert len(readings) == archive.pages and {(o.version, o.hocr_sha256) for o in readings} == {(1, None)}
        received = s.scalars(select(FieldValue).join(Document).where(Document.site_code == DST)).all()
        assert [f.flags for f in received] == [[], []]


def test_a_bag_of_a_newer_version_is_refused_by_the_checks(
    settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path
) -> None:
    src, _ = sites
    archive = make_archive(src, 63)
    folder = Path(export_package(settings, archive.resident_id, SRC, tmp_path / "bag")["path"])
    path = folder / bagmod.CATALOG_PATH
    catalog = json.loads(path.read_bytes())
    catalog["version"] = VERSION + 1
    path.write_bytes(json.dumps(catalog).encode())
    rebag(folder)
    codes = {(p.file, p.code) for p in check_folder(folder, trust=Trust(settings)).problems}
    assert (bagmod.CATALOG_PATH, "TRANSFER_PACKAGE_VERSION") in codes


def _receipt() -> dict[str, object]:
    return {
        "transfer_id": "t1",
        "from_site": SRC,
        "to_site": DST,
        "verifying_site": DST,
        "person": "330106********0029",
        "manifest": {"algorithms": ["sha256"], "manifest_sha256": "a" * 64, "tagmanifest_sha256": "b" * 64},
        "package": {"prefix": f"sites/{DST}/packages/t1/", "files": 3, "bytes": 100},
        "counts": {"pages": 1},
        "checks": {"integrity": True},
        "timestamps": {"requested": "2026-01-01T00:00:00+00:00"},
        "format": "dangan-transfer-receipt/2",
        "signed_at": "2026-01-01T00:00:01+00:00",
        "signature": {"algorithm": "Ed25519", "site": DST, "key_id": "k", "value": "v"},
    }


def test_receipt_versions_and_shape_are_checked() -> None:
    receipt = Receipt.parse(_receipt())
    assert receipt.to_json() == _receipt() and receipt.package.files == 3
    with pytest.raises(ReceiptVersionUnsupported) as newer:
        Receipt.parse({**_receipt(), "format": "dangan-transfer-receipt/3"})
    assert newer.value.code == "TRANSFER_RECEIPT_VERSION" and newer.value.details["reason"] == "RECEIPT_VERSION"
    for fmt, reason in (("dangan-transfer-receipt/1", "RECEIPT_LEGACY"), ("other/2", "RECEIPT_FORMAT")):
        with pytest.raises(ReceiptInvalid) as info:
            Receipt.parse({**_receipt(), "format": fmt})
        assert info.value.details["reason"] == reason
    with pytest.raises(ReceiptInvalid) as info:
        Receipt.parse({**_receipt(), "counts": {"pages": "1"}})
    assert info.value.details["reason"] == "RECEIPT_MALFORMED" and "counts.pages" in info.value.message


def test_a_malformed_receipt_is_refused_before_its_signature(settings: Settings) -> None:
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt({**_receipt(), "package": None}, Trust(settings))
    assert info.value.details["reason"] == "RECEIPT_MALFORMED"
