"""The source site's signature on a bag: ``dangan-signature.json``, a tag file written after the tag manifests.

BagIt manifests prove that files did not change *by accident*: anyone who edits a file can recompute every
manifest. The signature proves who made the bag. The source signs a statement naming the transfer, both sites and
the SHA-256 of the tag manifest, the payload manifest and the catalog snapshot; the tag manifest covers the
payload manifest and ``bag-info.txt``, the payload manifest covers every payload file (catalog snapshot, OCR,
fields, masters, derivatives). So one Ed25519 signature covers every byte of the bag, and a receiver that checks it
against the source's registered public key (:class:`~dangan.transfer.keys.Trust`) before writing anything cannot be
handed a forged person, page or field value.

The statement is deterministic for one package (the signing time is the transfer's bagging time), so a package
rebuilt after a crash is byte-identical.
"""

from __future__ import annotations

import hashlib
import json

from dangan.transfer import bag
from dangan.transfer.checks import AUTHENTICITY, Problem
from dangan.transfer.errors import SignatureRefused
from dangan.transfer.keys import Signer, Trust, canonical

FORMAT = "dangan-bag-signature/1"
MAX_BYTES = 64 * 1024
_STATEMENT_KEYS = (
    "transfer_id",
    "source_site",
    "destination_site",
    "tagmanifest_sha256",
    "manifest_sha256",
    "catalog_sha256",
    "signed_at",
)


def sign_bag(
    tag_files: dict[str, bytes],
    catalog: bytes,
    *,
    transfer_id: str,
    source: str,
    destination: str,
    signed_at: str,
    signer: Signer,
) -> bytes:
    """The signature tag file for a bag whose tag files (manifests, bag-info, tag manifests) are ``tag_files``."""
    statement = {
        "transfer_id": transfer_id,
        "source_site": source,
        "destination_site": destination,
        "tagmanifest_sha256": hashlib.sha256(tag_files[f"tagmanifest-{bag.PRIMARY}.txt"]).hexdigest(),
        "manifest_sha256": hashlib.sha256(tag_files[f"manifest-{bag.PRIMARY}.txt"]).hexdigest(),
        "catalog_sha256": hashlib.sha256(catalog).hexdigest(),
        "signed_at": signed_at,
    }
    doc = {
        "format": FORMAT,
        "algorithm": "Ed25519",
        "site": source,
        "key_id": signer.key_id,
        "statement": statement,
        "signature": signer.sign(canonical(statement)),
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode()


def check_signature(reader: bag.BagReader, trust: Trust, info: dict[str, list[str]]) -> list[Problem]:
    """Problems with the bag's source signature (none when it is valid and by a key ``trust`` honours).

    Reads only tag files; the payload digests the statement names are compared with the manifests here and the
    manifests with the payload by the fixity checks, so a valid signature plus clean fixity covers every byte."""
    name = bag.SIGNATURE_NAME

    def problem(code: str, message: str) -> list[Problem]:
        return [Problem(AUTHENTICITY, code, name, message)]

    data = reader.read_tag(name)
    if data is None:
        return problem("SIGNATURE_MISSING", "the bag carries no source signature; it cannot be authenticated")
    if len(data) > MAX_BYTES:
        return problem("SIGNATURE_MALFORMED", f"signature file of {len(data)} bytes (at most {MAX_BYTES})")
    try:
        doc = json.loads(data)
        statement = doc["statement"]
        if doc.get("format") != FORMAT or not isinstance(statement, dict):
            return problem("SIGNATURE_MALFORMED", f"unknown signature format {doc.get('format')!r}")
        missing = [k for k in _STATEMENT_KEYS if not isinstance(statement.get(k), str)]
        if missing:
            return problem("SIGNATURE_MALFORMED", f"statement lacks {', '.join(missing)}")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        return problem("SIGNATURE_MALFORMED", f"not a signature document: {type(exc).__name__}")

    def first(label: str) -> str | None:
        values = info.get(label)
        return values[0] if values else None

    out: list[Problem] = []
    claims = {
        "transfer_id": first("Dangan-Transfer-Id"),
        "source_site": first("Dangan-Source-Site"),
        "destination_site": first("Dangan-Destination-Site"),
    }
    for key, found in claims.items():
        if statement[key] != found:
            out += problem("SIGNATURE_MISMATCH", f"signed {key} {statement[key]}, bag-info says {found}")
    digests = {
        "tagmanifest_sha256": reader.read_tag(f"tagmanifest-{bag.PRIMARY}.txt"),
        "manifest_sha256": reader.read_tag(f"manifest-{bag.PRIMARY}.txt"),
    }
    for key, tag in digests.items():
        if tag is None or hashlib.sha256(tag).hexdigest() != statement[key]:
            out += problem("SIGNATURE_MISMATCH", f"{key.removesuffix('_sha256')} changed after it was signed")
    manifest, _ = bag.parse_manifest(digests["manifest_sha256"] or b"")
    if manifest.get(bag.CATALOG_PATH) != statement["catalog_sha256"]:
        out += problem("SIGNATURE_MISMATCH", "the catalog snapshot is not the one that was signed")
    if doc.get("site") != statement["source_site"]:
        out += problem(
            "SIGNATURE_MISMATCH", f"signed by site {doc.get('site')}, statement names {statement['source_site']}"
        )
    try:
        trust.check(
            statement["source_site"],
            str(doc.get("key_id")),
            str(doc.get("algorithm")),
            canonical(statement),
            str(doc.get("signature", "")),
            statement["signed_at"],
        )
    except SignatureRefused as exc:
        out += problem(str(exc.details.get("reason") or exc.code), exc.message)
    return out


def signature_summary(reader: bag.BagReader) -> dict[str, str | None]:
    """Who signed a bag (site, key id), for reports; empty when unsigned or unreadable."""
    try:
        doc = json.loads(reader.read_tag(bag.SIGNATURE_NAME) or b"{}")
        return {k: str(doc[k]) if doc.get(k) is not None else None for k in ("site", "key_id", "algorithm")}
    except (ValueError, AttributeError, RecursionError):
        return {}
