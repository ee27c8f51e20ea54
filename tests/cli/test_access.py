"""The access policy at the CLI: identity-digit searches need pii.reveal; re-pointing a site needs --update,
sites.admin and a store that holds the site's objects; refusals and changes are audited."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from cli.app import app
from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Master, OcrResult, Page, ScanBatch, Site
from dangan.catalog.sites import add_site, get_site
from dangan.config import load_settings
from dangan.storage.factory import open_store

SITE = "330106"
RID = "33010619860507822X"
PHONE = "18882619427"
runner = CliRunner()


def _seed(data: Path, pages: int = 3) -> tuple[str, list[tuple[str, bytes]]]:
    """A site whose masters are in its store, with OCR text naming an ID and a phone; returns catalog URL and
    the (key, bytes) of its masters."""
    ref = add_site(load_settings(data_dir=data), SITE, "西湖区")
    store = open_store(ref.store_url)
    objects = []
    with session_scope(ref.catalog_url) as s:
        batch = ScanBatch(site_code=SITE, source="/scans", source_key="k" * 64)
        s.add(batch)
        s.flush()
        for i in range(pages):
            body = f"scan {i}".encode()
            sha = hashlib.sha256(body).hexdigest()
            key = f"sites/{SITE}/masters/{sha[:2]}/{sha}.tif"
            store.put(key, body, sha256=sha)
            objects.append((key, body))
            master = Master(
                site_code=SITE,
                sha256=sha,
                size=len(body),
                format="tiff",
                object_key=key,
                original_name=f"p{i}.tif",
                batch_id=batch.id,
            )
            s.add(master)
            s.flush()
            page = Page(site_code=SITE, master_id=master.id, page_index=0, seq=1, status="ocr_done")
            s.add(page)
            s.flush()
            text = f"参保人员登记表\n公民身份号码 {RID}\n联系电话 {PHONE}" if i == 0 else "缴费明细"
            s.add(OcrResult(page_id=page.id, engine="test", model="test", device="cpu", text=text, lines=[]))
    return ref.catalog_url, objects


def _flat(output: str) -> str:
    return " ".join(output.split())  # rich wraps long messages


def _events(url: str, action: str) -> list[AuditEvent]:
    with session_scope(url) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        s.expunge_all()
    return rows


def test_search_for_id_or_phone_digits_needs_pii_reveal(tmp_path: Path) -> None:
    data = tmp_path / "d"
    url, _ = _seed(data)
    base = ["--data-dir", str(data)]
    # the oracle: each query extends a known prefix by one digit; the hit count says whether the guess was right
    for probe in (RID[:7], RID[:10], "3301 0619", PHONE[:5], PHONE[-4:], "６１９８", "07822X"):
        refused = runner.invoke(app, [*base, "--actor", "wang", "search", probe, "--site", SITE])
        assert refused.exit_code == 2, (probe, refused.output)
        assert "ACCESS_DENIED" in refused.output and "pii.reveal" in refused.output
        assert "pages contain" not in refused.output
    ordinary = runner.invoke(app, [*base, "--actor", "wang", "search", "公民身份号码", "--site", SITE])
    assert ordinary.exit_code == 0 and "1 pages contain" in ordinary.output
    assert RID not in ordinary.output and PHONE not in ordinary.output and RID[6:14] not in ordinary.output

    granted = {"DANGAN_ACCESS__GRANTS": '{"li.ming": ["pii.reveal"]}'}
    allowed = runner.invoke(app, [*base, "--actor", "li.ming", "search", RID[:10], "--site", SITE], env=granted)
    assert allowed.exit_code == 0 and "1 pages contain" in allowed.output, allowed.output
    assert RID not in allowed.output  # the display stays masked; only the query was allowed
    events = _events(url, "search.identity")
    assert [(e.actor, e.outcome) for e in events] == [("wang", "refused")] * 7 + [("li.ming", "ok")]
    assert all(RID[:7] not in str(e.details) and PHONE[:5] not in str(e.details) for e in events)


def test_sites_add_does_not_repoint_a_live_site(tmp_path: Path) -> None:
    data, empty, copy = tmp_path / "d", tmp_path / "empty-store", tmp_path / "copy-store"
    url, objects = _seed(data)
    before = get_site(load_settings(data_dir=data), SITE)
    base = ["--data-dir", str(data)]
    admin = {"DANGAN_ACCESS__GRANTS": '{"admin": ["sites.admin"]}'}

    # rerunning the registration unchanged is no change; a rename is recorded
    assert runner.invoke(app, [*base, "sites", "add", SITE, "--name", "西湖区"]).exit_code == 0
    assert runner.invoke(app, [*base, "sites", "add", SITE, "--name", "杭州市西湖区"]).exit_code == 0
    silent = runner.invoke(app, [*base, "sites", "add", SITE, "--name", "杭州市西湖区", "--store", str(empty)])
    assert silent.exit_code == 2 and "SITE_CHANGE_REFUSED" in silent.output and "--update" in silent.output
    no_admin = runner.invoke(
        app, [*base, "--actor", "wang", "sites", "add", SITE, "--name", "x", "--store", str(empty), "--update"]
    )
    assert no_admin.exit_code == 2 and "ACCESS_DENIED" in no_admin.output and "sites.admin" in no_admin.output
    repoint = [*base, "--actor", "admin", "sites", "add", SITE, "--name", "杭州市西湖区", "--update", "--store"]
    to_empty = runner.invoke(app, [*repoint, str(empty)], env=admin)
    assert to_empty.exit_code == 2 and "SITE_CHANGE_REFUSED" in to_empty.output
    assert "lacks 3 of 3" in _flat(to_empty.output)
    assert get_site(load_settings(data_dir=data), SITE).store_url == before.store_url  # nothing changed

    target = open_store(str(copy))
    for key, body in objects[:-1]:
        target.put(key, body, sha256=hashlib.sha256(body).hexdigest())
    partial = runner.invoke(app, [*repoint, str(copy)], env=admin)
    assert partial.exit_code == 2 and "lacks 1 of 3" in _flat(partial.output)
    key, body = objects[-1]
    target.put(key, body, sha256=hashlib.sha256(body).hexdigest())
    moved = runner.invoke(app, [*repoint, str(copy)], env=admin)
    assert moved.exit_code == 0, moved.output
    assert get_site(load_settings(data_dir=data), SITE).store_url == str(copy)
    forced = runner.invoke(app, [*repoint, str(empty), "--force"], env=admin)
    assert forced.exit_code == 0, forced.output

    with session_scope(url) as s:
        assert s.get(Site, SITE).store_url == str(empty)  # type: ignore[union-attr]
        trail = [
            (e.action, e.actor, e.outcome, e.details.get("code"))
            for e in s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "site").order_by(AuditEvent.id))
        ]
    assert trail == [
        ("site.registered", trail[0][1], "ok", None),
        ("site.renamed", trail[0][1], "ok", None),
        ("site.moved", trail[0][1], "refused", "SITE_CHANGE_REFUSED"),
        ("site.moved", "wang", "refused", "ACCESS_DENIED"),
        ("site.moved", "admin", "refused", "SITE_CHANGE_REFUSED"),
        ("site.moved", "admin", "refused", "SITE_CHANGE_REFUSED"),
        ("site.moved", "admin", "ok", None),
        ("site.moved", "admin", "ok", None),
    ]
    last = _events(url, "site.moved")[-1]
    assert last.details["forced"] is True and last.details["after"]["store"] != last.details["before"]["store"]
