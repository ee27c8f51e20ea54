"""Signed, machine-readable transfer receipts: signed by the receiving site's private key (Ed25519), verified by
anyone holding its registered public key, first of all by the source before it records the transfer as done."""

from __future__ import annotations

from typing import Any

from dangan.transfer.errors import ReceiptInvalid, SignatureRefused
from dangan.transfer.keys import ALGORITHM, Signer, Trust, canonical

RECEIPT_FORMAT = "dangan-transfer-receipt/2"
#: Receipts of format 1 were HMAC-signed with a key both operators held; they prove nothing to a third party.
LEGACY_FORMATS = ("dangan-transfer-receipt/1",)


def sign(body: dict[str, Any], signer: Signer, *, signed_at: str) -> dict[str, Any]:
    """``body`` plus a ``signature`` block (algorithm, site, key id, time, value) over everything else."""
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    unsigned["format"] = RECEIPT_FORMAT
    unsigned["signed_at"] = signed_at
    value = signer.sign(canonical(unsigned))
    return {
        **unsigned,
        "signature": {"algorithm": ALGORITHM, "site": signer.site, "key_id": signer.key_id, "value": value},
    }


def verify_receipt(receipt: dict[str, Any], trust: Trust, *, site: str | None = None) -> None:
    """Raise :class:`ReceiptInvalid` unless ``receipt`` is unchanged and signed by a key ``trust`` holds for the
    receiving site (``site``, default the receipt's own ``to_site``)."""
    if not isinstance(receipt, dict):
        raise ReceiptInvalid("a receipt is a JSON object")
    fmt = receipt.get("format")
    if fmt in LEGACY_FORMATS:
        raise ReceiptInvalid(
            f"receipt format {fmt} (HMAC, shared key) cannot be verified by public key",
            reason="RECEIPT_LEGACY",
            transfer_id=receipt.get("transfer_id"),
            hint="Ask the receiving site for a receipt of format 2 (`dangan transfer` reissues it on resume).",
        )
    if fmt != RECEIPT_FORMAT:
        raise ReceiptInvalid(f"unknown receipt format {fmt!r}", reason="RECEIPT_FORMAT")
    sig = receipt.get("signature")
    expected_site = site or receipt.get("to_site")
    if not isinstance(sig, dict) or sig.get("site") != expected_site or expected_site != receipt.get("verifying_site"):
        raise ReceiptInvalid(
            f"receipt is not signed by the receiving site {expected_site}", reason="RECEIPT_WRONG_SIGNER"
        )
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        trust.check(
            str(expected_site),
            str(sig.get("key_id")),
            str(sig.get("algorithm")),
            canonical(unsigned),
            str(sig.get("value", "")),
            receipt.get("signed_at"),
        )
    except SignatureRefused as exc:
        raise ReceiptInvalid(
            f"receipt signature refused: {exc.message}",
            reason=exc.details.get("reason"),
            transfer_id=receipt.get("transfer_id"),
        ) from exc


def receipt_bytes(receipt: dict[str, Any]) -> bytes:
    """Stored form of a receipt (canonical, so re-storing after a crash writes the same bytes)."""
    return canonical(receipt)
