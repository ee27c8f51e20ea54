"""What a fixity audit checks: every object the catalog references for a site, optionally a sample of them.

Objects are masters, derivatives (document PDFs included), quarantined originals, and per-page OCR JSON/hOCR.
The catalog keeps the SHA-256 of each (OCR outputs: ``ocr_result.sha256`` / ``hocr_sha256`` since migration
0008; rows from before have none and their objects are reported ``unverifiable``).
Sampling is by key hash: ``sha256(seed, key) < fraction``, so the same seed selects the same objects on every
run, and an object keeps its selection as the site grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Master, OcrResult, Page, QuarantineItem
from dangan.catalog.replica_models import Replica
from dangan.errors import ConfigError
from dangan.fixity.model import Target

HOCR, JSON = ".hocr", ".json"
_IN_BATCH = 500  # keys per IN (...) query


def validate_fraction(fraction: float) -> float:
    """A sample fraction must be in (0, 1]."""
    if not 0.0 < float(fraction) <= 1.0:
        raise ConfigError(
            f"sample fraction must be greater than 0 and at most 1, got {fraction!r}",
            hint="Use e.g. --sample 0.1 to re-hash a tenth of the objects.",
        )
    return float(fraction)


def is_sampled(key: str, fraction: float, seed: int | None) -> bool:
    """Deterministic selection of ``key`` for a run with ``fraction`` and ``seed`` (everything at 1.0)."""
    if fraction >= 1.0:
        return True
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def catalogued_keys(catalog_url: str, site: str) -> list[str]:
    """Sorted, de-duplicated keys of every object the catalog references for ``site``."""
    keys: set[str] = set()
    with session_scope(catalog_url) as s:
        keys.update(s.scalars(select(Master.object_key).where(Master.site_code == site)))
        derivs = select(Derivative.object_key).join(Page, Page.id == Derivative.page_id)
        keys.update(s.scalars(derivs.where(Page.site_code == site)))
        keys.update(
            k
            for k in s.scalars(select(QuarantineItem.object_key).where(QuarantineItem.site_code == site))
            if k is not None
        )
        ocr = select(OcrResult.object_key, OcrResult.error).join(Page, Page.id == OcrResult.page_id)
        for key, error in s.execute(ocr.where(Page.site_code == site, OcrResult.object_key.is_not(None))):
            keys.update(_ocr_keys(key, error))
    return sorted(keys)


def _ocr_keys(json_key: str | None, error: str | None) -> list[str]:
    # The stage writes an hOCR file next to the JSON only for a page that was processed without error.
    if json_key is None:
        return []
    if error is None and json_key.endswith(JSON):
        return [json_key, json_key.removesuffix(JSON) + HOCR]
    return [json_key]


def chunks(keys: list[str], size: int) -> list[list[str]]:
    """Consecutive chunks of at most ``size`` keys (one task each)."""
    size = max(1, int(size))
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def _batches(keys: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) >= _IN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def resolve_targets(catalog_url: str, site: str, keys: list[str]) -> list[Target]:
    """The catalog's expectation for each of ``keys`` (read afresh: a chunk task needs only the keys).

    A key no row references any more (deleted between planning and checking) is left out.
    """
    found: dict[str, Target] = {}
    with session_scope(catalog_url) as s:
        for batch in _batches(keys):
            for t in _targets(s, site, batch):
                found.setdefault(t.key, t)
    return [found[k] for k in keys if k in found]


def _targets(s: Session, site: str, keys: list[str]) -> Iterator[Target]:
    # An SM3 recorded by a verified replica copy is checked too when a repair reads a candidate copy.
    sm3s = dict(
        s.execute(
            select(Replica.object_key, Replica.sm3).where(Replica.object_key.in_(keys), Replica.sm3.is_not(None))
        ).all()
    )
    masters = select(Master.object_key, Master.sha256, Master.retain_until)
    for key, sha, retain in s.execute(masters.where(Master.site_code == site, Master.object_key.in_(keys))):
        # SQLite hands back naive datetimes; the catalog stores UTC.
        retain = retain.replace(tzinfo=UTC) if retain and retain.tzinfo is None else retain
        yield Target(key, "master", sha, retain, sm3s.get(key))
    derivs = select(Derivative.object_key, Derivative.sha256).join(Page, Page.id == Derivative.page_id)
    for key, sha in s.execute(derivs.where(Page.site_code == site, Derivative.object_key.in_(keys))):
        yield Target(key, "derivative", sha)
    quarantined = select(QuarantineItem.object_key, QuarantineItem.sha256).where(
        QuarantineItem.site_code == site, QuarantineItem.object_key.in_(keys)
    )
    for qkey, qsha in s.execute(quarantined):
        if qkey is not None:
            yield Target(qkey, "quarantine", qsha)
    wanted = set(keys)
    json_keys = {k.removesuffix(HOCR) + JSON if k.endswith(HOCR) else k for k in keys}
    ocr = select(OcrResult.object_key, OcrResult.error, OcrResult.sha256, OcrResult.hocr_sha256).join(
        Page, Page.id == OcrResult.page_id
    )
    digests: dict[str, str | None] = {}
    for row_key, error, json_sha, hocr_sha in s.execute(
        ocr.where(Page.site_code == site, OcrResult.object_key.in_(json_keys))
    ):
        for key in _ocr_keys(row_key, error):
            if key in wanted:  # a row that records the digest wins over one that does not (same key)
                digests[key] = digests.get(key) or (hocr_sha if key.endswith(HOCR) else json_sha)
    for key, expected in digests.items():
        yield Target(key, "ocr", expected)


def referenced(catalog_url: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` (masters/derivatives area) a catalog row references, whatever the site column says."""
    out: set[str] = set()
    with session_scope(catalog_url) as s:
        for batch in _batches(keys):
            out.update(s.scalars(select(Master.object_key).where(Master.object_key.in_(batch))))
            out.update(s.scalars(select(Derivative.object_key).where(Derivative.object_key.in_(batch))))
            out.update(
                k
                for k in s.scalars(select(QuarantineItem.object_key).where(QuarantineItem.object_key.in_(batch)))
                if k is not None
            )
    return out
