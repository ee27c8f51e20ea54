"""``dangan serve``: a small HTTP server for the links in reports and artifacts (stdlib, threads, no listing).

Routes (every one but ``/healthz`` and ``/static/`` needs a valid link token, see :mod:`dangan.web.links`):

- ``/objects/{site}/{key}``: streams an object of the site's store (key validated, under ``sites/{site}/``);
- ``/docs/{site}/{path}``: the site's Great Expectations Data Docs, CDN references rewritten to ``/static/``;
  a valid token sets a cookie scoped to ``/docs/{site}/`` so the pages it links to open too;
- ``/review/{site}/{document_id}``: a document's OCR text (masked) and, for a viewer whose token grants
  ``pii.reveal`` (still granted in ``[access]``), its page images and clear text; every view is audited;
- ``/static/...``: the vendored CSS/JS/fonts (public library files, no data);
- ``/healthz``.

Refusals answer JSON ``{code, message, hint}``: 400 bad address, 403 token, 404 not found. The access log holds
method, path (site codes, object keys, document ids: no personal data) and status, never the query (tokens).
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dangan.errors import DanganError, ObjectNotFound, PermissionDenied, SiteCodeInvalid, SiteNotFound, UnsafePath
from dangan.web import links
from dangan.web.assets import localize_html, static_file
from dangan.web.errors import WebTokenExpired, WebTokenInvalid

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
DOCS_COOKIE = "dangan_docs"
# Objects may be anything a scanner or a bag produced: never let the browser run them as a page of this origin.
_OBJECT_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
_ACTIVE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"}


class NotFound(DanganError):
    """Nothing is served at this address (unknown route, missing file, or a folder: no listing)."""

    code = "WEB_NOT_FOUND"
    default_hint = "Check the link; open it again from the latest report (链接指向的内容不存在)."


_STATUS: dict[type[DanganError], HTTPStatus] = {
    UnsafePath: HTTPStatus.BAD_REQUEST,
    SiteCodeInvalid: HTTPStatus.BAD_REQUEST,
    WebTokenInvalid: HTTPStatus.FORBIDDEN,
    WebTokenExpired: HTTPStatus.FORBIDDEN,
    PermissionDenied: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    ObjectNotFound: HTTPStatus.NOT_FOUND,
    SiteNotFound: HTTPStatus.NOT_FOUND,
}


def _status(exc: DanganError) -> HTTPStatus:
    for kind, status in _STATUS.items():
        if isinstance(exc, kind):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _segments(path: str) -> list[str]:
    """Unquoted path segments; ``..``/``.``/empty inner segments, backslashes and NUL are refused (400)."""
    try:
        text = unquote(path, errors="strict") if "%" in path else path
    except UnicodeDecodeError as exc:
        raise UnsafePath("the address is not valid UTF-8 once decoded") from exc
    parts = text.split("/")[1:]
    if parts and parts[-1] == "":
        parts = [*parts[:-1], "index.html"] if len(parts) > 2 else parts[:-1]
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or "\x00" in part:
            raise UnsafePath("the address has an empty, '.' or '..' part", path_kind=parts[0] if parts else "")
    return parts


class Handler(BaseHTTPRequestHandler):
    """One request; the settings come from the server (:func:`make_server`)."""

    server: DanganHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "dangan"
    sys_version = ""

    # --- plumbing ------------------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        pass  # replaced by _access_log: the stdlib line carries the query string (tokens)

    def _access_log(self, status: int) -> None:
        log.info("%s %s %d", self.command, urlsplit(self.path).path[:300], status)

    def _send_error(self, exc: DanganError) -> None:
        status = _status(exc)
        body = json.dumps({"code": exc.code, "message": exc.message, "hint": exc.hint}, ensure_ascii=False).encode(
            "utf-8"
        )
        self._send(status, body, "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # a page's token must not leak to the next site
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._access_log(status)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            parts = _segments(url.path)
            route = parts[0] if parts else ""
            if route == "healthz" and len(parts) == 1:
                self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
            elif route == "static":
                self._static(parts[1:])
            elif route == "objects" and len(parts) >= 3:
                self._object(parts[1], "/".join(parts[2:]), query)
            elif route == "docs" and len(parts) >= 2:
                self._docs(parts[1], parts[2:] or ["index.html"], query)
            elif route == "review" and len(parts) == 3:
                self._review(parts[1], parts[2], query)
            else:
                raise NotFound("no such page")
        except DanganError as exc:
            self._send_error(exc)
        except (ConnectionError, TimeoutError):
            pass  # the browser went away mid-stream
        except Exception:
            log.exception("unexpected error serving %s", urlsplit(self.path).path[:300])
            self._send_error(DanganError("internal error; see the server log", hint="Report it to the maintainers."))

    def _token(self, query: dict[str, list[str]]) -> str | None:
        values = query.get(links.TOKEN_PARAM)
        return values[-1] if values else None

    def _cookie(self, name: str) -> str | None:
        try:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None

    # --- routes --------------------------------------------------------------------------------------------
    def _static(self, parts: list[str]) -> None:
        path = static_file("/".join(parts))
        if path is None:
            raise NotFound("no such static file")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, path.read_bytes(), ctype, {"Cache-Control": "public, max-age=86400"})

    def _object(self, site: str, key: str, query: dict[str, list[str]]) -> None:
        path = links.object_path(site, key)  # validates the site code and the key (400)
        links.check_token(self.server.settings, path, self._token(query))
        if not key.startswith(f"sites/{site}/"):
            raise NotFound("the object is not one of this site's")
        from dangan.catalog.sites import get_site
        from dangan.storage.factory import open_store

        store = open_store(get_site(self.server.settings, site).store_url)
        info = store.stat(key)  # ObjectNotFound → 404
        ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
        headers = {"Content-Security-Policy": _OBJECT_CSP, "Content-Disposition": "inline"}
        if ctype in _ACTIVE_TYPES:  # shown as text, never run
            ctype, headers["Content-Disposition"] = "text/plain", "attachment"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(info.size))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "private, no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            with store.open(key) as src:
                while chunk := src.read(CHUNK):
                    self.wfile.write(chunk)
        self._access_log(HTTPStatus.OK)

    def _docs(self, site: str, parts: list[str], query: dict[str, list[str]]) -> None:
        from dangan.quality.rules import data_docs_dir

        scope = links.docs_scope(site)
        token = self._token(query)
        cookie_name = f"{DOCS_COOKIE}_{site}"
        expiry = links.check_token(self.server.settings, scope, token or self._cookie(cookie_name))
        root = data_docs_dir(self.server.settings, site).resolve()
        path = root.joinpath(*parts)
        try:
            resolved = path.resolve(strict=True)
            resolved.relative_to(root)  # a symlink out of the folder is not followed
        except (OSError, ValueError, RuntimeError) as exc:
            raise NotFound("no such Data Docs page") from exc
        if resolved.is_dir():
            resolved = resolved / "index.html"  # never a listing
            if not resolved.is_file():
                raise NotFound("no such Data Docs page")
        headers: dict[str, str] = {}
        if token:  # remember the link's grant for the pages and assets it links to (same scope, same expiry)
            max_age = max(0, expiry - int(time.time()))
            headers["Set-Cookie"] = f"{cookie_name}={token}; Path={scope}; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        ctype = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
        body = resolved.read_bytes()
        if ctype == "text/html":
            body = localize_html(body.decode("utf-8", "replace"))[0].encode("utf-8")
            ctype = "text/html; charset=utf-8"
            # the pages run GX's inline scripts; everything they load comes from here
            headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'"
            )
        self._send(HTTPStatus.OK, body, ctype, headers)

    def _review(self, site: str, document_text: str, query: dict[str, list[str]]) -> None:
        if not document_text.isascii() or not document_text.isdigit() or len(document_text) > 18:
            raise NotFound("no such document")
        document_id = int(document_text)
        settings = self.server.settings
        links.check_token(settings, links.review_path(site, document_id), self._token(query))
        viewer = self._viewer(query)
        from dangan.access import PII_REVEAL, audit, has
        from dangan.catalog.sites import get_site

        reveal = viewer is not None and PII_REVEAL in viewer.permissions and has(settings, PII_REVEAL, viewer.actor)
        ref = get_site(settings, site)
        page = render_review(settings, site, ref.catalog_url, document_id, reveal=reveal)
        audit(
            ref.catalog_url,
            actor=viewer.actor if viewer else "web-link",
            action="web.review.view",
            entity_type="document",
            entity_id=str(document_id),
            site_code=site,
            details={"revealed": reveal},
        )
        csp = "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'"
        self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8", {"Content-Security-Policy": csp})

    def _viewer(self, query: dict[str, list[str]]) -> links.Viewer | None:
        """The viewer token from ``Authorization: Bearer``, the ``viewer`` query or the cookie; none → None.

        A token that is present but invalid or expired is refused (403), not silently treated as "no viewer".
        """
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = token or (query.get("viewer") or [""])[-1] or self._cookie(links.VIEWER_COOKIE)
        return links.read_viewer_token(self.server.settings, token) if token else None


def render_review(settings: Any, site: str, catalog_url: str, document_id: int, *, reveal: bool) -> str:
    """The minimal review page: each page's OCR text (masked unless ``reveal``) and, with ``reveal``, its image."""
    from sqlalchemy import select

    from dangan.catalog.db import session_scope
    from dangan.catalog.models import Derivative, Document, FieldValue, OcrResult, Page
    from dangan.pii import PERSONAL_FIELDS, Masker, mask_field

    with session_scope(catalog_url) as s:
        doc = s.get(Document, document_id)
        if doc is None or doc.site_code != site:
            raise NotFound("no such document at this site")
        fields = s.execute(select(FieldValue.name, FieldValue.value).where(FieldValue.document_id == document_id))
        personal = [(n, v) for n, v in fields if n in PERSONAL_FIELDS and v]
        rows = []
        for page in s.scalars(select(Page).where(Page.document_id == document_id).order_by(Page.seq)):
            ocr = s.scalars(
                select(OcrResult).where(OcrResult.page_id == page.id, OcrResult.is_current.is_(True))
            ).first()
            image = s.scalars(
                select(Derivative.object_key).where(Derivative.page_id == page.id).order_by(Derivative.id.desc())
            ).first()
            rows.append((page.seq, page.status, ocr.text if ocr else None, image or page.master.object_key))
        form_type = doc.form_type
    masker = Masker(
        ids=[v for n, v in personal if n == "id_number"],
        names=[v for n, v in personal if n == "name"],
        replacements={v: mask_field(n, v) or "" for n, v in personal},
    )
    shown = (lambda text: text) if reveal else masker
    body = [
        f"<h1>Document {document_id} · site {site} · {html.escape(form_type)}</h1>",
        "<p class='dangan-masked'>"
        + (
            "Personal data shown in clear (pii.reveal); this view is audited."
            if reveal
            else "Personal data masked. A viewer token granting pii.reveal (`dangan web token`) shows it in clear."
        )
        + "</p>",
    ]
    for seq, status, text, key in rows:
        body.append(f"<section><h2>Page {seq} <small>({html.escape(status)})</small></h2>")
        if reveal and key.endswith((".png", ".jpg", ".jpeg", ".tif", ".tiff")):
            body.append(
                f"<img class='page' alt='page {seq}' src='{html.escape(links.object_url(settings, site, key))}'>"
            )
        elif not reveal:
            body.append("<p class='dangan-masked'>[page image shown to viewers with pii.reveal]</p>")
        body.append(f"<pre>{html.escape(shown(text)) if text is not None else '(no OCR text yet)'}</pre></section>")
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>dangan review</title>"
        "<link rel='stylesheet' href='/static/dangan-minimal.css'></head><body>" + "".join(body) + "</body></html>"
    )


class DanganHTTPServer(ThreadingHTTPServer):
    """A threading server holding the settings its handlers use."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: Any) -> None:
        self.settings = settings
        super().__init__(address, Handler)


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8765`` for IPv6) → (host, port)."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bind must be host:port, got {bind!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def make_server(settings: Any, bind: str | None = None) -> DanganHTTPServer:
    """A bound server (not yet serving); port 0 picks a free one (``server.server_address``)."""
    links.signing_key(settings)  # refuse to start without a usable key rather than 500 on every link
    return DanganHTTPServer(parse_bind(bind or settings.web.bind), settings)


@contextmanager
def serving(settings: Any, bind: str = "127.0.0.1:0") -> Iterator[DanganHTTPServer]:
    """Serve in a background thread for the duration of the block (tests, the demo)."""
    server = make_server(settings, bind)
    thread = threading.Thread(target=server.serve_forever, name="dangan-web", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def base_url_of(server: DanganHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"
