"""Receiver-side verification of a bag: re-hash every file and run the four-property checks (四性检测).

Works on any :class:`~dangan.transfer.bag.BagReader` (a folder from removable media, or the objects that
arrived at the receiving site), streaming each file once; only masters (to probe them) and PDFs (to look for
active content) are held in memory, one at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from dangan.transfer import bag
from dangan.transfer.archive import ArchivePackage, MasterEntry, PageEntry
from dangan.transfer.checks import (
    AUTHENTICITY,
    INTEGRITY,
    PROPERTIES,
    SECURITY,
    USABILITY,
    Problem,
    check_catalog,
    check_content,
    check_master,
    check_path,
)
from dangan.transfer.errors import TransferPackageFormat, TransferPackageInvalid, TransferPackageVersion
from dangan.transfer.signature import check_signature, signature_summary

if TYPE_CHECKING:
    from dangan.imaging.model import DecodeLimits
    from dangan.transfer.keys import Trust


class VerifySummary(TypedDict):
    """A verification's verdicts: stored on the ``transfer.verified`` audit event; the receipt's ``checks``."""

    ok: bool
    files: int
    bytes: int
    algorithms: list[str]
    unchecked_algorithms: list[str]
    checks: dict[str, bool]
    signed_by: dict[str, str | None]
    problems: list[dict[str, str | None]]


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_bag`; ``ok`` when no problem was found."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    algorithms: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # manifests this host cannot compute (e.g. no SM3)
    info: dict[str, list[str]] = field(default_factory=dict)
    manifest_sha256: str | None = None
    tagmanifest_sha256: str | None = None
    signed_by: dict[str, str | None] = field(default_factory=dict)  # site and key id of the source's signature
    package: ArchivePackage | None = None  # the metadata payload, when it matched the model

    @property
    def ok(self) -> bool:
        return not self.problems

    def files_named(self) -> list[str]:
        """Every file some problem names, sorted (what an operator must look at)."""
        return sorted({p.file for p in self.problems if p.file})

    def summary(self) -> VerifySummary:
        """Per-property verdicts and counts (goes into audit events and receipts)."""
        return {
            "ok": self.ok,
            "files": self.files,
            "bytes": self.bytes,
            "algorithms": self.algorithms,
            "unchecked_algorithms": self.unchecked,
            "checks": {p: not any(x.property == p for x in self.problems) for p in PROPERTIES},
            "signed_by": self.signed_by,
            "problems": [p.to_dict() for p in self.problems[:50]],
        }

    def info_value(self, label: str) -> str | None:
        values = self.info.get(label)
        return values[0] if values else None


def _manifests(reader: bag.BagReader, report: VerifyReport, prefix: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for alg in bag.KNOWN:
        text = reader.read_tag(f"{prefix}-{alg}.txt")
        if text is None:
            continue
        entries, bad = bag.parse_manifest(text)
        for line in bad:
            report.problems.append(Problem(INTEGRITY, "MANIFEST_MALFORMED", f"{prefix}-{alg}.txt", line))
        if alg == bag.PRIMARY:
            digest = hashlib.sha256(text).hexdigest()
            if prefix == "manifest":
                report.manifest_sha256 = digest
            else:
                report.tagmanifest_sha256 = digest
        found[alg] = entries
    return found


def _checkable(algs: list[str], report: VerifyReport) -> list[str]:
    ok = [a for a in algs if a != "sm3" or bag.sm3_available()]
    report.unchecked = sorted(set(report.unchecked) | (set(algs) - set(ok)))
    return ok


def _check_tags(reader: bag.BagReader, report: VerifyReport) -> None:
    tags = _manifests(reader, report, "tagmanifest")
    if bag.PRIMARY not in tags:
        report.problems.append(Problem(INTEGRITY, "FILE_MISSING", "tagmanifest-sha256.txt", "tag manifest missing"))
    for alg in _checkable(sorted(tags), report):
        for name, expected in tags[alg].items():
            if name not in bag.tag_file_names(bag.KNOWN):
                report.problems.append(Problem(SECURITY, "UNEXPECTED_FILE", name, "unknown tag file listed"))
                continue
            data = reader.read_tag(name)
            if data is None:
                report.problems.append(Problem(INTEGRITY, "FILE_MISSING", name, "tag file missing"))
            elif (found := bag.digests_of(data, (alg,))[alg]) != expected:
                report.problems.append(
                    Problem(AUTHENTICITY, "CHECKSUM_MISMATCH", name, f"{alg} {found[:16]}…, expected {expected[:16]}…")
                )


def verify_bag(
    reader: bag.BagReader,
    *,
    trust: Trust,
    transfer_id: str | None = None,
    destination: str | None = None,
    limits: DecodeLimits | None = None,
) -> VerifyReport:
    """Check the source's signature (against the keys ``trust`` holds), structure, fixity (SHA-256 and SM3 where
    available) and the four properties of a bag."""
    if limits is None:
        from dangan.imaging.model import DecodeLimits

        limits = DecodeLimits()
    report = VerifyReport(source=reader.description)
    if reader.read_tag("bagit.txt") is None:
        report.problems.append(Problem(INTEGRITY, "FILE_MISSING", "bagit.txt", "not a bag: bagit.txt missing"))
        return report
    report.info = bag.parse_bag_info(reader.read_tag("bag-info.txt") or b"")
    if not report.info:
        report.problems.append(Problem(INTEGRITY, "FILE_MISSING", "bag-info.txt", "bag-info.txt missing or empty"))
    if transfer_id and report.info_value("Dangan-Transfer-Id") != transfer_id:
        report.problems.append(Problem(SECURITY, "WRONG_TRANSFER", "bag-info.txt", "bag belongs to another transfer"))
    dest = report.info_value("Dangan-Destination-Site")
    if destination and dest not in (destination, "unspecified"):
        report.problems.append(Problem(SECURITY, "WRONG_DESTINATION", "bag-info.txt", f"bag is addressed to {dest}"))
    report.problems.extend(check_signature(reader, trust, report.info))
    report.signed_by = signature_summary(reader)
    manifests = _manifests(reader, report, "manifest")
    _check_tags(reader, report)
    if bag.PRIMARY not in manifests:
        report.problems.append(Problem(INTEGRITY, "FILE_MISSING", "manifest-sha256.txt", "payload manifest missing"))
        return report
    algs = _checkable(sorted(manifests), report)
    report.algorithms = algs
    paths: set[str] = set()
    for alg, entries in manifests.items():
        paths |= set(entries)
        for path in sorted(set(manifests[bag.PRIMARY]) ^ set(entries)):
            report.problems.append(Problem(INTEGRITY, "MANIFEST_DISAGREE", path, f"not in every manifest ({alg})"))
    safe = set()
    for path in sorted(paths):
        if reason := check_path(path):
            report.problems.append(Problem(SECURITY, "UNSAFE_PATH", path, reason))
        else:
            safe.add(path)
    present_tags = {n for n in bag.tag_file_names(bag.KNOWN) if reader.read_tag(n) is not None}
    for extra in reader.extra_files(present_tags | safe):
        report.problems.append(Problem(SECURITY, "UNEXPECTED_FILE", extra, "not listed in any manifest"))
    meta = [p for p in bag.METADATA_PATHS if p in safe]
    held = _rehash(reader, report, manifests, algs, meta, {}, {}, limits)
    masters, pages = _parse_metadata(report, held, safe, manifests)
    _rehash(reader, report, manifests, algs, sorted(safe - set(meta)), masters, pages, limits)
    oxum = report.info_value("Payload-Oxum")
    if oxum and oxum != f"{report.bytes}.{report.files}":
        report.problems.append(
            Problem(INTEGRITY, "OXUM_MISMATCH", None, f"Payload-Oxum {oxum}, found {report.bytes}.{report.files}")
        )
    return report


def _rehash(
    reader: bag.BagReader,
    report: VerifyReport,
    manifests: dict[str, dict[str, str]],
    algs: list[str],
    paths: list[str],
    masters: dict[str, MasterEntry],
    pages: dict[str, list[PageEntry]],
    limits: DecodeLimits,
) -> dict[str, bytes]:
    """Hash every file once; masters, PDFs and metadata are kept just long enough to be checked."""
    held: dict[str, bytes] = {}
    for path in paths:
        keep = path in bag.METADATA_PATHS or path in masters or path.lower().endswith(".pdf")
        try:
            with reader.open_payload(path) as fh:
                digests, size, data = bag.hash_stream(fh, tuple(algs), keep=keep)
        except FileNotFoundError:
            report.problems.append(Problem(INTEGRITY, "FILE_MISSING", path, "listed in the manifest, not present"))
            continue
        report.files += 1
        report.bytes += size
        for alg in algs:
            expected = manifests[alg].get(path)
            if expected is not None and digests[alg] != expected:
                report.problems.append(
                    Problem(
                        AUTHENTICITY,
                        "CHECKSUM_MISMATCH",
                        path,
                        f"{alg} {digests[alg][:16]}…, expected {expected[:16]}…",
                    )
                )
        report.problems.extend(check_content(path, data[:1024], data if keep else None))
        if not keep:
            continue
        if path in masters:
            master = masters[path]
            report.problems.extend(check_master(master, data, pages.get(master.ref, []), limits))
        elif path in bag.METADATA_PATHS:
            held[path] = data
    return held


def _parse_metadata(
    report: VerifyReport, held: dict[str, bytes], payload: set[str], manifests: dict[str, dict[str, str]]
) -> tuple[dict[str, MasterEntry], dict[str, list[PageEntry]]]:
    """Parse the metadata payload into an :class:`ArchivePackage` (format and version checked, older versions
    migrated) and run the catalog-level checks; returns masters by path, pages by master ref."""
    parsed: dict[str, object] = {}
    for path in bag.METADATA_PATHS:
        if path not in held:
            if path not in payload:
                report.problems.append(Problem(INTEGRITY, "FILE_MISSING", path, "metadata file missing"))
            continue
        try:
            parsed[path] = json.loads(held[path])
        except ValueError as exc:
            report.problems.append(Problem(USABILITY, "METADATA_INVALID", path, f"not JSON: {exc}"))
        except RecursionError:  # a hostile, absurdly nested document
            report.problems.append(Problem(SECURITY, "METADATA_INVALID", path, "JSON nested too deeply"))
    if bag.CATALOG_PATH not in parsed:
        return {}, {}
    try:
        package = ArchivePackage.from_documents(
            parsed[bag.CATALOG_PATH], parsed.get(bag.OCR_PATH, []), parsed.get(bag.FIELDS_PATH, [])
        )
    except TransferPackageInvalid as exc:
        file = str(exc.details.get("file") or bag.CATALOG_PATH)
        report.problems.append(Problem(USABILITY, "METADATA_INVALID", file, exc.message))
        return {}, {}
    except (TransferPackageFormat, TransferPackageVersion) as exc:
        report.problems.append(Problem(USABILITY, exc.code, bag.CATALOG_PATH, exc.message))
        return {}, {}
    report.package = package
    report.problems.extend(check_catalog(package, payload))
    pages: dict[str, list[PageEntry]] = {}
    for page in package.catalog.pages:
        pages.setdefault(page.master, []).append(page)
    primary = manifests[bag.PRIMARY]
    for path, sha256 in [(m.path, m.sha256) for m in package.catalog.masters] + [
        (v.path, v.sha256) for v in package.catalog.derivatives
    ]:
        if path in primary and primary[path] != sha256:
            report.problems.append(Problem(AUTHENTICITY, "CATALOG_DIGEST_MISMATCH", path, "manifest ≠ catalog"))
    masters = {m.path: m for m in package.catalog.masters if m.path in payload}
    return masters, pages
