"""Fixity audit on a local store: exact classification, audit events, deterministic sampling."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent
from dangan.errors import ConfigError
from dangan.fixity import audit_site, catalogued_keys, is_sampled, object_entity_id
from dangan.storage import LocalStore
from tests.fixity.conftest import SITE, Archive, corrupt_local, sha


def _events(archive: Archive) -> list[AuditEvent]:
    with session_scope(archive.ref.catalog_url) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("fixity.%")).order_by(AuditEvent.id)))


def test_clean_site_verifies_and_records_only_a_summary(archive: Archive) -> None:
    report = audit_site(archive.ref.catalog_url, archive.store, SITE, actor="auditor")
    assert catalogued_keys(archive.ref.catalog_url, SITE) == archive.all_keys
    assert report.passed and report.findings == []
    assert report.checked_keys == archive.all_keys and report.ok == len(archive.all_keys) == report.catalogued
    [run] = _events(archive)
    assert (run.action, run.entity_id, run.outcome, run.actor) == ("fixity.run", report.run_id, "ok", "auditor")
    assert run.details["counts"]["ok"] == len(archive.all_keys) and run.details["selection"] == "all"


def test_exact_classification(archive: Archive) -> None:
    store = archive.store
    assert isinstance(store, LocalStore)
    changed_master, missing_master, _ = archive.masters
    corrupt_local(store, changed_master)
    (store.root / missing_master).unlink()
    # The derivative's bytes are intact but the store's own record of them disagrees.
    deriv = archive.derivatives[0]
    meta_path = store.root / ".meta" / f"{deriv}.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    corrupt_local(store, archive.ocr[0])  # OCR JSON: verified against the catalog's SHA-256
    stray = b"stored before a crash, no row yet"
    untracked_master = f"sites/{SITE}/masters/{sha(stray)[:2]}/{sha(stray)}.png"
    untracked_deriv = f"sites/{SITE}/derivatives/999/ocr-gray-000.png"
    for key in (untracked_master, untracked_deriv, f"sites/{SITE}/ocr/9/stray.json"):  # last: not audited area
        store.put(key, stray, sha256=sha(stray))

    report = audit_site(archive.ref.catalog_url, store, SITE, actor="auditor")

    assert {f.key: str(f.status) for f in report.findings} == {
        changed_master: "changed",
        missing_master: "missing",
        deriv: "metadata_mismatch",
        archive.ocr[0]: "changed",
        untracked_master: "untracked",
        untracked_deriv: "untracked",
    }
    by_key = {f.key: f for f in report.findings}
    master_sha = changed_master.rsplit("/", 1)[1].removesuffix(".png")
    changed = by_key[changed_master]
    assert (changed.kind, changed.expected, changed.recorded) == ("master", master_sha, master_sha)
    assert changed.found == sha((store.root / changed_master).read_bytes()) != master_sha
    mm = by_key[deriv]
    assert mm.kind == "derivative" and mm.found == mm.expected and mm.recorded == "0" * 64
    assert by_key[archive.ocr[0]].kind == "ocr" and by_key[missing_master].found is None
    assert by_key[untracked_master].recorded == sha(stray)
    counts = report.counts()
    assert counts == {
        "ok": len(archive.all_keys) - 4,
        "missing": 1,
        "changed": 2,
        "metadata_mismatch": 1,
        "untracked": 2,
        "unverifiable": 0,
        "repaired": 0,
        "failed": 4,
    }
    assert not report.passed
    assert store.get(untracked_master) == stray  # reported, never deleted

    events = _events(archive)
    failures = [e for e in events if e.action != "fixity.run"]
    assert sorted((e.action, e.details["key"]) for e in failures) == sorted(
        (f"fixity.{f.status}", f.key) for f in report.findings
    )
    assert all(e.entity_type == "object" and e.entity_id == object_entity_id(e.details["key"]) for e in failures)
    assert all(e.details["run_id"] == report.run_id and e.site_code == SITE for e in events)
    assert {e.outcome for e in failures if e.action == "fixity.untracked"} == {"warning"}
    [run] = [e for e in events if e.action == "fixity.run"]
    assert run.outcome == "failed" and run.details["counts"] == counts


def test_sampling_is_deterministic_and_recorded(archive: Archive) -> None:
    url = archive.ref.catalog_url
    first = audit_site(url, archive.store, SITE, sample_fraction=0.5, seed=7)
    again = audit_site(url, archive.store, SITE, sample_fraction=0.5, seed=7, chunk=2)
    assert first.checked_keys == again.checked_keys
    assert first.checked_keys == [k for k in archive.all_keys if is_sampled(k, 0.5, 7)]
    assert 0 < len(first.checked_keys) < len(archive.all_keys)
    picks = {tuple(k for k in archive.all_keys if is_sampled(k, 0.5, seed)) for seed in range(8)}
    assert len(picks) > 1  # the seed matters
    unseeded = audit_site(url, archive.store, SITE, sample_fraction=0.5)
    assert unseeded.seed is not None  # chosen at random, recorded so the run can be repeated
    replay = audit_site(url, archive.store, SITE, sample_fraction=0.5, seed=unseeded.seed)
    assert replay.checked_keys == unseeded.checked_keys
    runs = [e for e in _events(archive) if e.action == "fixity.run"]
    assert [r.details["seed"] for r in runs] == [7, 7, unseeded.seed, unseeded.seed]
    assert runs[0].details["checked_keys_sha256"] == runs[1].details["checked_keys_sha256"]
    assert runs[0].details["checked"] == len(first.checked_keys)


def test_sampled_run_finds_only_sampled_damage(archive: Archive) -> None:
    store = archive.store
    assert isinstance(store, LocalStore)
    seed = next(s for s in range(100) if is_sampled(archive.masters[0], 0.3, s))
    skipped = next(k for k in archive.masters if not is_sampled(k, 0.3, seed))
    corrupt_local(store, archive.masters[0])
    corrupt_local(store, skipped)
    report = audit_site(archive.ref.catalog_url, store, SITE, sample_fraction=0.3, seed=seed)
    assert [f.key for f in report.failures] == [archive.masters[0]]


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_bad_fraction_refused(archive: Archive, fraction: float) -> None:
    with pytest.raises(ConfigError):
        audit_site(archive.ref.catalog_url, archive.store, SITE, sample_fraction=fraction)
