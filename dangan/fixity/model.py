"""Plain values of a fixity audit: what was checked, how it was found, and the run's report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of checking one object (``untracked``: stored, but no catalog row references it;
    ``unverifiable``: catalogued without a SHA-256, so its bytes cannot be verified)."""

    OK = "ok"
    MISSING = "missing"
    CHANGED = "changed"
    METADATA_MISMATCH = "metadata_mismatch"
    UNTRACKED = "untracked"
    UNVERIFIABLE = "unverifiable"


#: Statuses that mean catalogued content is not (verifiably) what was recorded.
FAILURES = (Status.MISSING, Status.CHANGED, Status.METADATA_MISMATCH)

#: Stable code of each finding (reports, events); the store's codes where one exists.
CODES = {
    Status.MISSING: "STORE_NOT_FOUND",
    Status.CHANGED: "STORE_CHECKSUM_MISMATCH",
    Status.METADATA_MISMATCH: "STORE_METADATA_MISMATCH",
    Status.UNTRACKED: "FIXITY_UNTRACKED",
    Status.UNVERIFIABLE: "FIXITY_DIGEST_UNRECORDED",
}


@dataclass(frozen=True)
class Target:
    """A catalogued object to verify. ``expected`` is the catalog SHA-256; None when the catalog records none
    (OCR rows from before migration 0008: the object is ``unverifiable``). ``retain_until``: the catalog's
    retention (masters), which a repair re-applies. ``sm3``: an SM3 digest recorded for the content (by a
    verified replica), checked too."""

    key: str
    kind: str  # master | derivative | quarantine | ocr
    expected: str | None
    retain_until: datetime | None = None
    sm3: str | None = None


@dataclass
class ObjectCheck:
    """How one object was found.

    ``expected``: catalog SHA-256 (or the recorded one where the catalog keeps none); ``recorded``: SHA-256 in
    the store's metadata; ``found``: SHA-256 of the bytes read now (None when missing).
    """

    key: str
    kind: str
    status: Status
    expected: str | None = None
    recorded: str | None = None
    found: str | None = None
    size: int | None = None
    repaired: bool = False
    repair_error: str | None = None
    #: Where a repair took the verified copy from: ``{"source", "store", "key", "sha256", "sm3"}``.
    repaired_from: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """A catalogued object that is still not what was recorded (repaired ones are not)."""
        return self.status in FAILURES and not self.repaired

    @property
    def code(self) -> str | None:
        """The finding's stable code (None for an OK object)."""
        return CODES.get(self.status)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = str(self.status)
        out["code"] = self.code
        return out


@dataclass
class ChunkResult:
    """One chunk's outcome: how many keys were checked, how many were fine, and every other finding."""

    checked: int = 0
    ok: int = 0
    findings: list[ObjectCheck] = field(default_factory=list)


@dataclass
class FixityReport:
    """Outcome of one audit run of one site.

    ``checked_keys`` lists exactly which catalogued objects were re-hashed (all of them unless sampled);
    ``findings`` holds every non-OK object, failures and untracked alike, in key order.
    """

    site: str
    run_id: str
    sample_fraction: float
    seed: int | None
    catalogued: int
    checked_keys: list[str] = field(default_factory=list)
    ok: int = 0
    findings: list[ObjectCheck] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""

    def add(self, chunk: ChunkResult, keys: list[str]) -> None:
        """Fold one chunk's result in."""
        self.checked_keys.extend(keys)
        self.ok += chunk.ok
        self.findings.extend(chunk.findings)

    @property
    def failures(self) -> list[ObjectCheck]:
        """Catalogued objects still missing, changed or without matching metadata (after any repair)."""
        return [f for f in self.findings if f.failed]

    @property
    def repaired(self) -> list[ObjectCheck]:
        return [f for f in self.findings if f.repaired]

    @property
    def untracked(self) -> list[ObjectCheck]:
        return [f for f in self.findings if f.status is Status.UNTRACKED]

    @property
    def unverifiable(self) -> list[ObjectCheck]:
        return [f for f in self.findings if f.status is Status.UNVERIFIABLE]

    @property
    def passed(self) -> bool:
        """True when no failure remains (untracked and unverifiable objects are reported, not failures)."""
        return not self.failures

    def counts(self) -> dict[str, int]:
        """Objects per status as found (before repair), plus ``repaired`` and ``failed`` (after repair)."""
        out = {str(s): 0 for s in Status}
        out[str(Status.OK)] = self.ok
        for f in self.findings:
            out[str(f.status)] += 1
        out["repaired"] = len(self.repaired)
        out["failed"] = len(self.failures)
        return out

    def to_dict(self, *, with_keys: bool = False) -> dict[str, Any]:
        """Plain-dict form (flow result, ``--json``); ``checked_keys`` only when asked (it can be long)."""
        out: dict[str, Any] = {
            "site": self.site,
            "run_id": self.run_id,
            "sample_fraction": self.sample_fraction,
            "seed": self.seed,
            "catalogued": self.catalogued,
            "checked": len(self.checked_keys),
            "counts": self.counts(),
            "passed": self.passed,
            "findings": [f.to_dict() for f in self.findings],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if with_keys:
            out["checked_keys"] = list(self.checked_keys)
        return out
