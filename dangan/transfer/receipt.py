"""Signed, machine-readable transfer receipts: signed by the receiving site's private key (Ed25519), verified by
anyone holding its registered public key, first of all by the source before it records the transfer as done.

A receipt is a :class:`Receipt` (format ``dangan-transfer-receipt/2``). Its stored form is the JSON object the
signature covers (canonical bytes of everything but ``signature``), so verification works on that object as it
arrived, never on a re-serialised copy; the model checks its shape. Format 1 receipts (HMAC with a shared key)
prove nothing to a third party and are refused; a newer version is refused rather than half-understood.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from dangan.transfer.errors import ReceiptInvalid, ReceiptVersionUnsupported, SignatureRefused
from dangan.transfer.keys import ALGORITHM, Signer, Trust, canonical

RECEIPT_FAMILY: Final = "dangan-transfer-receipt"
RECEIPT_VERSION: Final = 2
RECEIPT_FORMAT: Final = f"{RECEIPT_FAMILY}/{RECEIPT_VERSION}"
#: Receipts of format 1 were HMAC-signed with a key both operators held; they prove nothing to a third party.
LEGACY_FORMATS = (f"{RECEIPT_FAMILY}/1",)
_FORMAT = re.compile(rf"{RECEIPT_FAMILY}/(\d{{1,6}})")
#: A receipt's JSON object (stored in the transfer row and in both stores).
ReceiptJson = dict[str, JsonValue]


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ReceiptManifest(_Part):
    algorithms: list[str]
    manifest_sha256: str
    tagmanifest_sha256: str


class ReceiptPackage(_Part):
    prefix: str
    files: int
    bytes: int


class ReceiptSignature(_Part):
    algorithm: str
    site: str
    key_id: str
    value: str


class ReceiptBody(_Part):
    """What the receiving site attests: which package arrived, what it held, that it passed the checks, when."""

    transfer_id: str
    from_site: str
    to_site: str
    verifying_site: str
    person: str  # masked resident ID
    manifest: ReceiptManifest
    package: ReceiptPackage
    counts: dict[str, int]
    checks: dict[str, bool]
    timestamps: dict[str, str]


class Receipt(ReceiptBody):
    """A signed receipt of format ``dangan-transfer-receipt/2``."""

    format: str
    signed_at: str
    signature: ReceiptSignature

    def to_json(self) -> ReceiptJson:
        """The stored form (what the signature covers, plus the signature)."""
        return self.model_dump(mode="json")

    @classmethod
    def parse(cls, receipt: object) -> Receipt:
        """Check format, version and shape of a receipt's JSON object (not its signature: :func:`verify_receipt`).

        Raises :class:`ReceiptInvalid` (reason ``RECEIPT_LEGACY``, ``RECEIPT_FORMAT``, ``RECEIPT_MALFORMED``) or
        :class:`ReceiptVersionUnsupported` (reason ``RECEIPT_VERSION``) for a newer version."""
        if not isinstance(receipt, Mapping):
            raise ReceiptInvalid("a receipt is a JSON object", reason="RECEIPT_MALFORMED")
        fmt = receipt.get("format")
        tid = str(receipt.get("transfer_id"))[:64]
        if fmt in LEGACY_FORMATS:
            raise ReceiptInvalid(
                f"receipt format {fmt} (HMAC, shared key) cannot be verified by public key",
                reason="RECEIPT_LEGACY",
                transfer_id=tid,
                hint="Ask the receiving site for a receipt of format 2 (`dangan transfer` reissues it on resume).",
            )
        found = _FORMAT.fullmatch(fmt) if isinstance(fmt, str) else None
        if found is None:
            raise ReceiptInvalid(f"unknown receipt format {str(fmt)[:60]!r}", reason="RECEIPT_FORMAT", transfer_id=tid)
        if int(found.group(1)) != RECEIPT_VERSION:
            raise ReceiptVersionUnsupported(
                f"receipt format {fmt}; this dangan reads {RECEIPT_FORMAT}", reason="RECEIPT_VERSION", transfer_id=tid
            )
        try:
            return cls.model_validate(dict(receipt))
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False, include_context=False)[:5]
            )
            raise ReceiptInvalid(
                f"receipt does not match {RECEIPT_FORMAT}: {where}", reason="RECEIPT_MALFORMED"
            ) from None


def sign(body: ReceiptBody | Mapping[str, JsonValue], signer: Signer, *, signed_at: str) -> Receipt:
    """``body`` plus format, time and a ``signature`` block (algorithm, site, key id, value) over everything else.

    ``body`` may be a mapping (a stored receipt's fields; ``format``, ``signed_at`` and ``signature`` are replaced)."""
    data = body.model_dump(mode="json") if isinstance(body, ReceiptBody) else dict(body)
    clean = ReceiptBody.model_validate({k: v for k, v in data.items() if k in ReceiptBody.model_fields})
    unsigned: ReceiptJson = {
        **clean.model_dump(mode="json"),
        "format": RECEIPT_FORMAT,
        "signed_at": signed_at,
    }
    signature = ReceiptSignature(
        algorithm=ALGORITHM, site=signer.site, key_id=signer.key_id, value=signer.sign(canonical(unsigned))
    )
    return Receipt.model_validate({**unsigned, "signature": signature.model_dump()})


def verify_receipt(receipt: Receipt | Mapping[str, JsonValue], trust: Trust, *, site: str | None = None) -> Receipt:
    """The receipt, once checked: format and version (:meth:`Receipt.parse`), unchanged, and signed by a key
    ``trust`` holds for the receiving site (``site``, default the receipt's own ``to_site``).

    Raises :class:`ReceiptInvalid` (or its :class:`ReceiptVersionUnsupported`) otherwise."""
    stored = receipt.to_json() if isinstance(receipt, Receipt) else dict(receipt)
    parsed = Receipt.parse(stored)
    sig = parsed.signature
    expected_site = site or parsed.to_site
    if sig.site != expected_site or expected_site != parsed.verifying_site:
        raise ReceiptInvalid(
            f"receipt is not signed by the receiving site {expected_site}", reason="RECEIPT_WRONG_SIGNER"
        )
    unsigned = {k: v for k, v in stored.items() if k != "signature"}  # the bytes as they arrived, not a re-dump
    try:
        trust.check(expected_site, sig.key_id, sig.algorithm, canonical(unsigned), sig.value, parsed.signed_at)
    except SignatureRefused as exc:
        raise ReceiptInvalid(
            f"receipt signature refused: {exc.message}",
            reason=exc.details.get("reason"),
            transfer_id=parsed.transfer_id,
        ) from exc
    return parsed


def receipt_bytes(receipt: Receipt | Mapping[str, JsonValue]) -> bytes:
    """Stored form of a receipt (canonical, so re-storing after a crash writes the same bytes)."""
    return canonical(receipt.to_json() if isinstance(receipt, Receipt) else dict(receipt))
