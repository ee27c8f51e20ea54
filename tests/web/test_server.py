"""``dangan serve``: signed links to objects, Data Docs (vendored assets, no CDN) and review pages."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dangan.catalog.schema import upgrade
from dangan.catalog.sites import add_site, get_site
from dangan.config import Settings
from dangan.quality.rules import data_docs_dir
from dangan.storage.factory import open_store
from dangan.web import links
from dangan.web.assets import localize_html
from dangan.web.server import serving

SITE = "330106"
KEY = f"sites/{SITE}/masters/ab/{'ab' + '0' * 62}.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"synthetic page bytes" * 100
CDN_HOSTS = re.compile(r"(cdn\.jsdelivr|cdnjs|bootstrapcdn|unpkg\.com|code\.jquery|fonts\.googleapis|amazonaws\.com)")


def _docs(settings: Settings) -> Path:
    """Real GX Data Docs for one synthetic statement, built where the server looks for the site's docs."""
    from dangan.quality.records import RecordInput
    from dangan.quality.runner import validate_records

    rec = RecordInput(
        record_id="r1",
        form_type="statement",
        fields={"total": {"value": "12.00", "confidence": 0.99}},
        contributions=[
            {
                "period": "2020-01",
                "base": "100.00",
                "employer": "10.00",
                "personal": "2.00",
                "flag": "正常",
                "total": "12.00",
                "confidence": 0.99,
            },
        ],
    )
    folder = data_docs_dir(settings, SITE)
    validate_records([rec], docs_dir=folder)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """A registered site with one object and its Data Docs, served on a free port."""
    from dangan.config import load_settings

    settings = load_settings(data_dir=tmp_path_factory.mktemp("web") / "data")
    upgrade(settings.home_catalog_url)
    add_site(settings, SITE, "西湖区")
    open_store(get_site(settings, SITE).store_url).put(KEY, PNG, sha256=hashlib.sha256(PNG).hexdigest())
    _docs(settings)
    with serving(settings) as server:
        host, port = server.server_address[:2]
        base = f"http://{host}:{port}"
        yield settings.model_copy(update={"web": settings.web.model_copy(update={"base_url": base})}), base


def _get(base: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``target`` as written (no client-side normalisation of ``..``)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", target, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_links_carry_a_token_and_no_file_path(site: tuple[Settings, str]) -> None:
    settings, base = site
    for url in (
        links.object_url(settings, SITE, KEY),
        links.data_docs_url(settings, SITE),
        links.review_url(settings, SITE, 7),
    ):
        assert url.startswith(base + "/") and "?t=" in url and "file:" not in url
        assert "X-Amz" not in url and "AWSAccessKeyId" not in url


def test_valid_token_streams_the_object(site: tuple[Settings, str]) -> None:
    settings, base = site
    status, headers, body = _get(base, _target(links.object_url(settings, SITE, KEY)))
    assert (status, body, headers["content-type"]) == (200, PNG, "image/png")
    assert "sandbox" in headers["content-security-policy"]


def test_missing_tampered_expired_or_foreign_tokens_are_refused(site: tuple[Settings, str]) -> None:
    settings, base = site
    good = _target(links.object_url(settings, SITE, KEY))
    path, token = good.split("?t=")
    expiry, mac = token.split(".")
    other = _target(links.object_url(settings, SITE, f"sites/{SITE}/masters/ab/other.png"))
    expired = links.sign_scope(settings, path, 60, now=time.time() - 3600)
    cases = {
        "missing": path,
        "tampered signature": f"{path}?t={expiry}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        "extended expiry": f"{path}?t={int(expiry) + 1000}.{mac}",
        "other object's token": f"{path}?{other.split('?')[1]}",
        "expired": f"{path}?t={expired}",
    }
    for name, target in cases.items():
        status, _, body = _get(base, target)
        code = json.loads(body)["code"]
        assert status == 403, name
        assert code == ("WEB_TOKEN_EXPIRED" if name == "expired" else "WEB_TOKEN_INVALID"), name
    # the docs of the site do not open with an object's token either
    assert _get(base, f"/docs/{SITE}/index.html?{good.split('?')[1]}")[0] == 403


def test_dot_dot_and_unsafe_addresses_are_refused(site: tuple[Settings, str]) -> None:
    settings, base = site
    token = links.data_docs_url(settings, SITE).split("?")[1]
    secret = settings.data_dir / "web" / "secret.key"
    assert secret.exists()
    for target in (
        f"/docs/{SITE}/../../web/secret.key?{token}",
        f"/docs/{SITE}/%2e%2e/%2e%2e/web/secret.key?{token}",
        f"/objects/{SITE}/sites/{SITE}/../../etc/passwd?t=1.x",
        f"/docs/{SITE}/..%2f..%2fcatalog.db?{token}",
    ):
        status, _, body = _get(base, target)
        assert status in (400, 404), target
        assert b"catalog" not in body and secret.read_bytes() not in body
    # a folder is never listed
    status, _, _ = _get(base, f"/docs/{SITE}/validations/?{token}")
    assert status == 404


def test_data_docs_are_served_without_any_cdn_reference(site: tuple[Settings, str]) -> None:
    settings, base = site
    url = links.data_docs_url(settings, SITE)
    status, headers, body = _get(base, _target(url))
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode("utf-8")
    assert "<table" in page or "bootstrap-table" in page
    assert not CDN_HOSTS.search(page), CDN_HOSTS.search(page)
    assert not re.search(r"(src|href)=[\"']https?://[^\"']+\.(css|js)", page)
    assets = sorted(set(re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", page)))
    assert any("bootstrap.min.css" in a for a in assets) and any("jquery.min.js" in a for a in assets)
    for asset in assets:  # every rewritten reference is served (no token needed: public library files)
        assert _get(base, asset)[0] == 200, asset
    # the docs folder on disk was rewritten after GX built it, too
    on_disk = (data_docs_dir(settings, SITE) / "index.html").read_text(encoding="utf-8")
    assert not CDN_HOSTS.search(on_disk)
    # a page linked from the index opens with the cookie the index set (relative links carry no token)
    cookie = headers["set-cookie"].split(";")[0]
    assert f"Path=/docs/{SITE}/" in headers["set-cookie"]
    linked = re.findall(r"[\"'](validations/[^\"']+\.html)[\"']", page)  # GX links rows by script
    assert linked
    assert _get(base, f"/docs/{SITE}/{linked[0]}", {"Cookie": cookie})[0] == 200
    assert _get(base, f"/docs/{SITE}/{linked[0]}")[0] == 403


def test_unknown_cdn_references_never_stay_external() -> None:
    html = (
        '<link rel="stylesheet" href="https://cdn.example.org/x.css" integrity="sha384-abc" crossorigin="anonymous">'
        '<script src="https://cdn.example.org/x.js"></script><img src="https://cdn.example.org/i.png">'
        "<div style=\"background: url('https://cdn.example.org/b.png') 0 0\"></div>"
    )
    out, unknown = localize_html(html)
    assert "https://" not in out and "integrity" not in out and "/static/dangan-minimal.css" in out
    assert len(unknown) == 4
    assert localize_html(out) == (out, [])  # idempotent


def test_healthz_and_unknown_routes(site: tuple[Settings, str]) -> None:
    _, base = site
    assert _get(base, "/healthz")[:1] == (200,)
    assert _get(base, "/")[0] == 404
    assert _get(base, "/static/")[0] == 404
    assert _get(base, "/static/vendor/")[0] == 404


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/bootstrap.sh installs it)")
def test_headless_chromium_renders_the_data_docs_with_the_vendored_css(
    site: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, _ = site
    url = links.data_docs_url(settings, SITE)
    # Bootstrap's .navbar gets display:flex from the vendored stylesheet; without it the element is a block
    probe = tmp_path / "probe.js"
    probe.write_text("", encoding="utf-8")
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    dom = done.stdout
    assert "<table" in dom, done.stderr[-2000:]
    # bootstrap-table (vendored JS, run by the page) wraps the tables it manages in its own container
    assert "bootstrap-table" in dom and "fixed-table-container" in dom, done.stderr[-2000:]


def test_review_page_masks_unless_the_viewer_may_reveal_and_every_view_is_audited(
    site: tuple[Settings, str],
) -> None:
    from sqlalchemy import select

    from dangan.catalog.db import session_scope
    from dangan.catalog.models import AuditEvent, Document, FieldValue, Master, OcrResult, Page, ScanBatch

    settings, base = site
    rid, name = "330106198212070023", "钟燕"
    catalog = get_site(settings, SITE).catalog_url
    with session_scope(catalog) as s:
        batch = ScanBatch(site_code=SITE, source="scans", source_key="k" * 16)
        s.add(batch)
        s.flush()
        master = Master(
            site_code=SITE,
            sha256="ab" + "0" * 62,
            size=len(PNG),
            format="png",
            object_key=KEY,
            original_name="scan.png",
            batch_id=batch.id,
        )
        doc = Document(site_code=SITE, batch_id=batch.id, source_file="scan.png", form_type="registration")
        s.add_all([master, doc])
        s.flush()
        page = Page(site_code=SITE, master_id=master.id, document_id=doc.id, seq=1)
        s.add(page)
        s.flush()
        s.add(OcrResult(page_id=page.id, engine="tesseract", model="m", device="cpu", text=f"姓名 {name} 身份证 {rid}"))
        s.add_all(
            [
                FieldValue(document_id=doc.id, name="name", value=name),
                FieldValue(document_id=doc.id, name="id_number", value=rid),
            ]
        )
        doc_id = doc.id
    target = _target(links.review_url(settings, SITE, doc_id))
    status, _, body = _get(base, target)
    page_html = body.decode("utf-8")
    assert status == 200 and rid not in page_html and name not in page_html and "身份证" in page_html
    assert "/objects/" not in page_html  # no image without pii.reveal
    assert _get(base, target.split("?")[0])[0] == 403  # the link's own token is required
    # a viewer token of a granted operator reveals; a forged or revoked one does not
    granted = settings.model_copy(
        update={"access": settings.access.model_copy(update={"grants": {"li": ["pii.reveal"]}})}
    )
    viewer = links.mint_viewer_token(settings, "li", ["pii.reveal"])
    with serving(granted) as server:
        host, port = server.server_address[:2]
        other = f"http://{host}:{port}"
        status, _, body = _get(other, target, {"Authorization": f"Bearer {viewer}"})
        assert status == 200 and rid in body.decode("utf-8") and "/objects/" in body.decode("utf-8")
        assert _get(other, target, {"Authorization": f"Bearer {viewer[:-3]}xyz"})[0] == 403
    # the first server's [access] grants nothing to "li": revoked, so masked
    status, _, body = _get(base, target, {"Authorization": f"Bearer {viewer}"})
    assert status == 200 and rid not in body.decode("utf-8")
    with session_scope(catalog) as s:
        views = s.scalars(select(AuditEvent).where(AuditEvent.action == "web.review.view")).all()
        assert [(e.actor, e.details["revealed"]) for e in views][-3:] == [
            ("web-link", False),
            ("li", True),
            ("li", False),
        ]
