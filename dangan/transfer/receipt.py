"""Signed, machine-readable transfer receipts (HMAC-SHA256 with the receiving site's key)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from dangan.transfer.errors import ReceiptInvalid
from dangan.transfer.keys import key_id

RECEIPT_FORMAT = "dangan-transfer-receipt/1"
ALGORITHM = "HMAC-SHA256"


def canonical(obj: Any) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(body: dict[str, Any], key: bytes) -> dict[str, Any]:
    """``body`` plus a ``signature`` block over everything else."""
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    unsigned["format"] = RECEIPT_FORMAT
    mac = hmac.new(key, canonical(unsigned), hashlib.sha256).hexdigest()
    return {**unsigned, "signature": {"algorithm": ALGORITHM, "key_id": key_id(key), "value": mac}}


def verify_receipt(receipt: dict[str, Any], key: bytes) -> None:
    """Raise :class:`ReceiptInvalid` unless ``receipt`` was signed with ``key`` and is unchanged."""
    sig = receipt.get("signature") or {}
    if sig.get("algorithm") != ALGORITHM or sig.get("key_id") != key_id(key):
        raise ReceiptInvalid("receipt was not signed with this site's key", key_id=sig.get("key_id"))
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    expected = hmac.new(key, canonical(unsigned), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(sig.get("value", ""))):
        raise ReceiptInvalid("receipt signature does not match its content", transfer_id=receipt.get("transfer_id"))


def receipt_bytes(receipt: dict[str, Any]) -> bytes:
    """Stored form of a receipt (canonical, so re-storing after a crash writes the same bytes)."""
    return canonical(receipt)
