"""Packages on removable media: BagIt validity, SM3, refusal of tampered bags, four-property checks, import."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import bagit
import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Person, Transfer
from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.transfer import bag as bagmod
from dangan.transfer import check_folder, export_package, import_package, verify_receipt
from dangan.transfer.errors import BagRefused
from dangan.transfer.keys import Trust
from tests.transfer.archive import DST, SRC, make_archive, row_counts
from tests.transfer.conftest import FAST

needs_sm3 = pytest.mark.skipif(not bagmod.sm3_available(), reason="this OpenSSL has no SM3")


@pytest.fixture
def exported(settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path) -> tuple[Path, str]:
    src, _ = sites
    archive = make_archive(src, 11)
    result = export_package(settings, archive.resident_id, SRC, tmp_path / "usb" / "bag")
    return Path(result["path"]), archive.resident_id


def test_export_is_a_valid_bag_with_sm3(settings: Settings, exported: tuple[Path, str]) -> None:
    folder, rid = exported
    bagit.Bag(str(folder)).validate()  # the bagit library's own validator
    info = bagmod.parse_bag_info((folder / "bag-info.txt").read_bytes())
    assert info["Dangan-Source-Site"] == [SRC] and info["Dangan-Destination-Site"] == ["unspecified"]
    assert info["Dangan-Person"] == [rid[:6] + "********" + rid[-4:]]
    assert {"养老保险; retention=permanent", "医疗保险; retention=30"} == set(info["Dangan-Dossier"])
    tag_text = "".join(p.read_text() for p in folder.glob("*.txt"))
    assert rid not in tag_text
    assert check_folder(folder, trust=Trust(settings)).ok
    if bagmod.sm3_available():
        entries, bad = bagmod.parse_manifest((folder / "manifest-sm3.txt").read_bytes())
        assert not bad and len(entries) == 4 * 4 + 3  # masters, derivatives, OCR JSON + hOCR, 3 metadata files
        for path, digest in entries.items():
            assert hashlib.new("sm3", (folder / path).read_bytes()).hexdigest() == digest


def rebag(folder: Path) -> None:
    """Recompute every manifest, the Payload-Oxum and tag manifests, as a careful forger would."""
    algs = tuple(a for a in bagmod.KNOWN if (folder / f"manifest-{a}.txt").exists())
    files = sorted(p for p in (folder / "data").rglob("*") if p.is_file())
    for a in algs:
        entries = {p.relative_to(folder).as_posix(): bagmod.digests_of(p.read_bytes(), (a,))[a] for p in files}
        (folder / f"manifest-{a}.txt").write_bytes(bagmod.manifest_text(entries))
    info = (folder / "bag-info.txt").read_text()
    oxum = f"{sum(p.stat().st_size for p in files)}.{len(files)}"
    (folder / "bag-info.txt").write_text(re.sub(r"Payload-Oxum: \S+", f"Payload-Oxum: {oxum}", info))
    for a in algs:
        covered = bagmod.tag_file_names(algs)
        names = [n for n in covered if not n.startswith("tagmanifest") and n != bagmod.SIGNATURE_NAME]
        entries = {n: bagmod.digests_of((folder / n).read_bytes(), (a,))[a] for n in names}
        (folder / f"tagmanifest-{a}.txt").write_bytes(bagmod.manifest_text(entries))


def first(folder: Path, sub: str) -> Path:
    return sorted((folder / "data" / sub).rglob("*.*"))[0]


def tamper_payload(folder: Path) -> str:
    victim = first(folder, "masters")
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF
    victim.write_bytes(bytes(data))
    return victim.relative_to(folder).as_posix()


def remove_payload(folder: Path) -> str:
    victim = first(folder, "derivatives")
    victim.unlink()
    return victim.relative_to(folder).as_posix()


def add_file(folder: Path) -> str:
    (folder / "data" / "ocr" / "evil.sh").write_text("#!/bin/sh\nrm -rf /\n")
    return "data/ocr/evil.sh"


def traversal(folder: Path) -> str:
    manifest = folder / "manifest-sha256.txt"
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  data/../../etc/passwd\n")
    return "data/../../etc/passwd"


@pytest.mark.parametrize("damage", [tamper_payload, remove_payload, add_file, traversal])
def test_import_refuses_damaged_bag_naming_files(
    settings: Settings, sites: tuple[SiteRef, SiteRef], exported: tuple[Path, str], damage: object
) -> None:
    folder, _ = exported
    named = damage(folder)  # type: ignore[operator]
    with pytest.raises(BagRefused) as info:
        import_package(settings, folder, DST, retry=FAST)
    assert named in info.value.details["files"] or named in str(info.value.details["problems"])
    _, dst = sites
    assert row_counts(dst.catalog_url, DST)["persons"] == 0
    with session_scope(dst.catalog_url) as s:
        assert s.scalars(select(AuditEvent).filter_by(action="transfer.import_refused")).first() is not None


def forge_executable(folder: Path) -> tuple[str, str]:
    victim = first(folder, "derivatives")
    victim.write_bytes(b"\x7fELF" + b"\x00" * 64)
    return victim.relative_to(folder).as_posix(), "EXECUTABLE_CONTENT"


def forge_truncated_master(folder: Path) -> tuple[str, str]:
    victim = first(folder, "masters")
    victim.write_bytes(victim.read_bytes()[:-40])
    return victim.relative_to(folder).as_posix(), "DECODE_FAILED"


def forge_page_gap(folder: Path) -> tuple[str, str]:
    path = folder / bagmod.CATALOG_PATH
    catalog = json.loads(path.read_bytes())
    dropped = catalog["pages"].pop(0)
    catalog["masters"] = [m for m in catalog["masters"] if m["ref"] != dropped["master"]]
    path.write_bytes(json.dumps(catalog, ensure_ascii=False).encode())
    return bagmod.CATALOG_PATH, "PAGE_GAP"


@pytest.mark.parametrize("forge", [forge_executable, forge_truncated_master, forge_page_gap])
def test_four_property_checks_catch_consistently_forged_bags(
    settings: Settings, exported: tuple[Path, str], forge: object
) -> None:
    """Fixity alone passes (manifests recomputed); authenticity/integrity/usability/security do not."""
    folder, _ = exported
    named, code = forge(folder)  # type: ignore[operator]
    rebag(folder)
    bagit.Bag(str(folder)).validate()
    report = check_folder(folder, trust=Trust(settings))
    assert not report.ok
    assert any(p.code == code and p.file == named for p in report.problems), report.problems


def test_import_commits_through_the_protocol(
    settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path
) -> None:
    src, dst = sites
    archive = make_archive(src, 12)
    exported = export_package(settings, archive.resident_id, SRC, tmp_path / "media", to_site=DST)
    with session_scope(src.catalog_url) as s:
        assert s.get(Transfer, exported["transfer_id"]).state == "packaged"  # type: ignore[union-attr]
    out = import_package(settings, Path(exported["path"]), DST, retry=FAST)
    assert (out.transfer_id, out.state) == (exported["transfer_id"], "done")
    verify_receipt(out.receipt or {}, Trust(settings))
    again = import_package(settings, Path(exported["path"]), DST, retry=FAST)  # same media delivered twice
    assert again.state == "done" and again.receipt == out.receipt
    counts = row_counts(dst.catalog_url, DST)
    assert counts["persons"] == 1 and counts["pages"] == archive.pages
    with session_scope(src.catalog_url) as s:
        person = s.scalars(select(Person).filter_by(site_code=SRC, resident_id=archive.resident_id)).one()
        assert (person.status, person.transferred_to) == ("transferred_out", DST)


def test_a_failed_bag_is_not_retried_at_another_site(
    settings: Settings, sites: tuple[SiteRef, SiteRef], third_site: SiteRef, tmp_path: Path
) -> None:
    """Once a bag's transfer failed, importing it again (here or elsewhere) says to export anew."""
    from dangan.transfer.errors import TransferStateError

    src, _ = sites
    archive = make_archive(src, 13)
    bag_dir = Path(export_package(settings, archive.resident_id, SRC, tmp_path / "usb")["path"])
    with session_scope(src.catalog_url) as s:  # the person left before the bag arrived: the import fails
        person = s.scalars(select(Person).filter_by(site_code=SRC, resident_id=archive.resident_id)).one()
        person.status, person.transferred_to = "transferred_out", "330199"
    assert import_package(settings, bag_dir, DST, retry=FAST).state == "failed"
    with pytest.raises(TransferStateError) as info:
        import_package(settings, bag_dir, third_site.code, retry=FAST)
    assert "export" in (info.value.hint or "").lower()
