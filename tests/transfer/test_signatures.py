"""Authenticity between counties: bags signed by the source's Ed25519 key, receipts by the receiver's.

Forgers here are careful: after changing a bag they recompute every manifest, the Payload-Oxum and the tag
manifests (``rebag``), so fixity passes and only the signature can tell.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Transfer
from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.errors import ConfigError
from dangan.storage import open_store
from dangan.transfer import bag as bagmod
from dangan.transfer import check_folder, export_package, import_package, request_transfer, run_step, verify_receipt
from dangan.transfer.errors import BagRefused, ReceiptInvalid, SignatureRefused
from dangan.transfer.keys import (
    Signer,
    Trust,
    active_key,
    export_public_key,
    import_public_key,
    key_id_of,
    key_path,
    list_keys,
    raw_public,
    revoke_key,
    rotate_key,
    signer,
)
from dangan.transfer.receipt import sign
from dangan.transfer.signature import sign_bag
from tests.transfer.archive import DST, SRC, make_archive, row_counts, sha
from tests.transfer.conftest import FAST
from tests.transfer.test_package import rebag


@pytest.fixture
def exported(settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path) -> Path:
    src, _ = sites
    archive = make_archive(src, 21)
    result = export_package(settings, archive.resident_id, SRC, tmp_path / "usb" / "bag", to_site=DST)
    return Path(result["path"])


def _catalog(folder: Path) -> tuple[Path, dict[str, Any]]:
    path = folder / bagmod.CATALOG_PATH
    return path, json.loads(path.read_bytes())


def forge_master(folder: Path) -> None:
    """Replace a master scan by another image of the same size; the catalog's digests follow it."""
    path, catalog = _catalog(folder)
    master = catalog["masters"][0]
    victim = folder / master["path"]
    old = Image.open(io.BytesIO(victim.read_bytes()))
    out = io.BytesIO()
    Image.new("L", old.size, 255).save(out, format="PNG", dpi=(300, 300))
    data = out.getvalue()
    new_path = master["path"].replace(master["sha256"], sha(data))
    victim.unlink()
    (folder / new_path).write_bytes(data)
    master.update(path=new_path, sha256=sha(data), size=len(data))
    path.write_bytes(json.dumps(catalog, ensure_ascii=False).encode())


def forge_identity(folder: Path) -> None:
    """Another person's resident ID and name in the catalog snapshot (and the bag-info's masked ID)."""
    path, catalog = _catalog(folder)
    person = catalog["person"]
    person["resident_id"] = "11010519800101001X"
    person["resident_id_masked"] = "110105********001X"
    person["name"] = "王伪造"
    path.write_bytes(json.dumps(catalog, ensure_ascii=False).encode())
    info = folder / "bag-info.txt"
    text = info.read_text().splitlines()
    info.write_text(
        "\n".join(ln if not ln.startswith("Dangan-Person:") else "Dangan-Person: 110105********001X" for ln in text)
        + "\n"
    )


def forge_fields(folder: Path) -> None:
    """Changed extracted values (an employer, contribution figures)."""
    path = folder / bagmod.FIELDS_PATH
    fields = json.loads(path.read_bytes())
    assert fields, "the test archive has fields"
    for row in fields:
        row["value"] = "9999999.99"
    path.write_bytes(json.dumps(fields, ensure_ascii=False).encode())


def assert_nothing_written(settings: Settings, dst: SiteRef) -> None:
    assert row_counts(dst.catalog_url, DST)["persons"] == 0
    assert list(open_store(dst.store_url).list(f"sites/{DST}/")) == []


@pytest.mark.parametrize("forge", [forge_master, forge_identity, forge_fields])
def test_forged_bags_with_recomputed_manifests_are_refused(
    settings: Settings, sites: tuple[SiteRef, SiteRef], exported: Path, forge: Any
) -> None:
    forge(exported)
    rebag(exported)
    report = check_folder(exported, trust=Trust(settings))
    assert not report.ok
    # fixity alone would pass now: the only findings are about the signature (and the catalog's own digests)
    sig = [p for p in report.problems if p.file == bagmod.SIGNATURE_NAME]
    assert {p.code for p in sig} == {"SIGNATURE_MISMATCH"}, report.problems
    assert not [p for p in report.problems if p.code == "CHECKSUM_MISMATCH"]
    with pytest.raises(BagRefused) as info:
        import_package(settings, exported, DST, retry=FAST)
    assert bagmod.SIGNATURE_NAME in info.value.details["files"]
    assert_nothing_written(settings, sites[1])


def test_bag_resigned_with_a_foreign_key_is_refused(
    settings: Settings, sites: tuple[SiteRef, SiteRef], exported: Path
) -> None:
    forge_identity(exported)
    rebag(exported)
    evil = Ed25519PrivateKey.generate()
    forger = Signer(SRC, key_id_of(raw_public(evil.public_key())), evil)
    tags = {n: (exported / n).read_bytes() for n in bagmod.tag_file_names(bagmod.KNOWN) if (exported / n).exists()}
    (exported / bagmod.SIGNATURE_NAME).write_bytes(
        sign_bag(
            tags,
            (exported / bagmod.CATALOG_PATH).read_bytes(),
            transfer_id=json.loads((exported / bagmod.SIGNATURE_NAME).read_bytes())["statement"]["transfer_id"],
            source=SRC,
            destination=DST,
            signed_at="2026-01-01T00:00:00+00:00",
            signer=forger,
        )
    )
    report = check_folder(exported, trust=Trust(settings))
    assert [p.code for p in report.problems] == ["SIGNATURE_UNKNOWN_KEY"], report.problems
    with pytest.raises(BagRefused):
        import_package(settings, exported, DST, retry=FAST)
    assert_nothing_written(settings, sites[1])


def test_unsigned_bag_is_refused(settings: Settings, sites: tuple[SiteRef, SiteRef], exported: Path) -> None:
    (exported / bagmod.SIGNATURE_NAME).unlink()
    report = check_folder(exported, trust=Trust(settings))
    assert [p.code for p in report.problems] == ["SIGNATURE_MISSING"]
    with pytest.raises(BagRefused):
        import_package(settings, exported, DST, retry=FAST)
    assert_nothing_written(settings, sites[1])


def test_revoked_source_key_refuses_what_it_signed(
    settings: Settings, sites: tuple[SiteRef, SiteRef], exported: Path
) -> None:
    kid = active_key(settings, SRC).key_id
    revoke_key(settings, kid, reason="laptop with the key file stolen", actor="admin")
    report = check_folder(exported, trust=Trust(settings))
    assert [p.code for p in report.problems] == ["SIGNATURE_KEY_REVOKED"]
    with pytest.raises(SignatureRefused):  # and it may sign nothing new
        signer(settings, SRC)
    with session_scope(settings.home_catalog_url) as s:
        event = s.scalars(select(AuditEvent).filter_by(action="key.revoked", entity_id=kid)).one()
        assert event.actor == "admin" and "stolen" in str(event.details)


def test_rotation_keeps_earlier_bags_valid_and_signs_new_ones_with_the_new_key(
    settings: Settings, sites: tuple[SiteRef, SiteRef], exported: Path
) -> None:
    old = active_key(settings, SRC).key_id
    new = rotate_key(settings, SRC, actor="admin")
    assert new.key_id != old and new.status == "active"
    assert {k.key_id: k.status for k in list_keys(settings, SRC)} == {old: "retired", new.key_id: "active"}
    assert check_folder(exported, trust=Trust(settings)).ok  # signed before the rotation
    out = import_package(settings, exported, DST, retry=FAST)
    assert out.state == "done"
    assert signer(settings, SRC).key_id == new.key_id
    assert oct(key_path(settings, SRC).stat().st_mode & 0o777) == "0o600"


def test_public_key_exchange_between_installations(settings: Settings, tmp_path: Path) -> None:
    """Another county's key arrives as a document; it is registered once, for that site only."""
    other = Settings(data_dir=tmp_path / "beijing")
    from dangan.catalog.schema import upgrade

    upgrade(other.home_catalog_url)
    upgrade(settings.home_catalog_url)
    theirs = Signer("110105", "", Ed25519PrivateKey.generate())
    doc = {
        "format": "dangan-site-key/1",
        "site": "110105",
        "algorithm": "Ed25519",
        "key_id": key_id_of(raw_public(theirs.private.public_key())),
        "public_key": __import__("base64").b64encode(raw_public(theirs.private.public_key())).decode(),
    }
    info = import_public_key(settings, doc, actor="admin")
    assert (info.site, info.status) == ("110105", "active")
    assert export_public_key(settings, "110105")["key_id"] == doc["key_id"]
    assert import_public_key(settings, doc, actor="admin").key_id == doc["key_id"]  # idempotent
    with pytest.raises(ConfigError):  # the same key claimed for another site
        import_public_key(settings, {**doc, "site": "110106"}, actor="admin")
    with pytest.raises(ConfigError):  # a second key while one is active needs --replace
        fresh = Ed25519PrivateKey.generate()
        import_public_key(
            settings,
            {
                **doc,
                "key_id": None,
                "public_key": __import__("base64").b64encode(raw_public(fresh.public_key())).decode(),
            },
            actor="admin",
        )
    secret = key_path(settings, "110105")
    assert not secret.exists()  # importing a public key never creates a private one


def test_online_transfer_refuses_a_forged_package_before_copying(
    settings: Settings, sites: tuple[SiteRef, SiteRef]
) -> None:
    src, dst = sites
    archive = make_archive(src, 22)
    tid = request_transfer(settings, archive.resident_id, SRC, DST)
    assert run_step(settings, SRC, tid) == "packaged"
    store = open_store(src.store_url)
    key = f"sites/{SRC}/packages/{tid}/{bagmod.SIGNATURE_NAME}"
    doc = json.loads(store.get(key))
    doc["statement"]["destination_site"] = "330110"  # re-addressed after signing
    store.delete(key)
    store.put(key, json.dumps(doc).encode(), sha256=sha(json.dumps(doc).encode()))
    assert run_step(settings, SRC, tid) == "failed"
    with session_scope(src.catalog_url) as s:
        row = s.get(Transfer, tid)
        assert row is not None and row.reason_code == "TRANSFER_VERIFY_FAILED"
    assert list(open_store(dst.store_url).list(f"sites/{DST}/")) == []


def test_receipt_is_signed_by_the_receiver_and_checked_by_public_key(
    settings: Settings, sites: tuple[SiteRef, SiteRef]
) -> None:
    src, _ = sites
    archive = make_archive(src, 23)
    from dangan.transfer import run_transfer

    out = run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST)
    receipt = out.receipt or {}
    assert receipt["format"] == "dangan-transfer-receipt/2"
    assert receipt["signature"]["site"] == DST
    assert receipt["signature"]["key_id"] == active_key(settings, DST).key_id
    verify_receipt(receipt, Trust(settings))
    for tampered in (
        {**receipt, "counts": {**receipt["counts"], "pages": 99}},
        {**receipt, "signature": {**receipt["signature"], "value": receipt["signature"]["value"][::-1]}},
    ):
        with pytest.raises(ReceiptInvalid):
            verify_receipt(tampered, Trust(settings))
    # the source's key cannot stand in for the receiver's, and a format-1 (HMAC) receipt proves nothing
    by_source = sign({k: v for k, v in receipt.items() if k != "signature"}, signer(settings, SRC), signed_at="x")
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(by_source, Trust(settings))
    assert info.value.details["reason"] == "RECEIPT_WRONG_SIGNER"
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt({**receipt, "format": "dangan-transfer-receipt/1"}, Trust(settings))
    assert info.value.details["reason"] == "RECEIPT_LEGACY"
    private = key_path(settings, DST).read_bytes()
    assert private not in json.dumps(receipt).encode()


# --- sealed bags (removable media) ---------------------------------------------------------------------------
def test_sealed_bag_opens_only_at_its_site_and_imports(
    settings: Settings, sites: tuple[SiteRef, SiteRef], third_site: SiteRef, tmp_path: Path
) -> None:
    from dangan.transfer.sealed import export_sealed, import_sealed, is_sealed, open_sealed

    src, dst = sites
    signer(settings, DST)  # the receiver's key exists (and is registered) before anyone seals to it
    archive = make_archive(src, 24)
    out = tmp_path / "usb" / "archive.dangan-bag"
    result = export_sealed(settings, archive.resident_id, SRC, out, to_site=DST)
    assert is_sealed(out) and result["recipient_site"] == DST
    blob = out.read_bytes()
    assert archive.resident_id.encode() not in blob and b"catalog.json" not in blob  # nothing readable
    assert not any((settings.data_dir / "outgoing").iterdir())  # the clear folder is gone
    with pytest.raises(BagRefused, match="sealed for site"):
        open_sealed(settings, out, third_site.code)
    outcome = import_sealed(settings, out, DST, retry=FAST)
    assert outcome.state == "done"
    assert row_counts(dst.catalog_url, DST)["persons"] == 1
    assert not any((settings.data_dir / "incoming").iterdir())


@pytest.mark.parametrize("damage", ["flip", "truncate", "append", "swap-recipient"])
def test_tampered_sealed_bag_is_refused_and_leaves_nothing(
    settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path, damage: str
) -> None:
    from dangan.transfer.sealed import export_sealed, import_sealed

    src, dst = sites
    signer(settings, DST)
    archive = make_archive(src, 25)
    out = tmp_path / "archive.dangan-bag"
    export_sealed(settings, archive.resident_id, SRC, out, to_site=DST)
    data = bytearray(out.read_bytes())
    header_end = data.index(b"\n") + 1
    if damage == "flip":
        data[header_end + 100] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) - 40]
    elif damage == "append":
        data += data[header_end : header_end + 200]
    else:  # the header is authenticated with every chunk: editing it breaks them all
        data[:header_end] = data[:header_end].replace(b'"source_site": "330106"', b'"source_site": "330110"')
    out.write_bytes(bytes(data))
    with pytest.raises(BagRefused):
        import_sealed(settings, out, DST, retry=FAST)
    assert_nothing_written(settings, dst)
    assert not any((settings.data_dir / "incoming").iterdir())


def test_sealed_bag_with_a_link_or_traversal_is_refused(
    settings: Settings, sites: tuple[SiteRef, SiteRef], tmp_path: Path
) -> None:
    """A sealed file is built by whoever holds the public key: its tar members are checked before writing."""
    import tarfile

    from dangan.transfer.sealed import open_sealed, seal_folder

    signer(settings, DST)
    evil = tmp_path / "evil"
    (evil / "data" / "ocr").mkdir(parents=True)
    (evil / "bagit.txt").write_text("BagIt-Version: 1.0\n")
    (evil / "data" / "ocr" / "ok.json").write_text("{}")
    out = tmp_path / "evil.dangan-bag"
    seal_folder(settings, evil, out, to_site=DST, from_site=SRC)
    assert open_sealed(settings, out, DST).is_dir()  # a plain folder opens
    original = tarfile.TarFile.add

    def add_escape(self: tarfile.TarFile, name: str, arcname: str | None = None, **kw: Any) -> None:
        info = tarfile.TarInfo("../../outside.txt")
        info.size = 3
        self.addfile(info, io.BytesIO(b"bad"))

    tarfile.TarFile.add = add_escape  # type: ignore[method-assign,assignment]
    try:
        seal_folder(settings, evil, out, to_site=DST, from_site=SRC)
    finally:
        tarfile.TarFile.add = original  # type: ignore[method-assign]
    with pytest.raises(BagRefused, match="unsafe name"):
        open_sealed(settings, out, DST)
    assert not (settings.data_dir / "outside.txt").exists()
