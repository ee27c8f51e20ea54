"""Signed links to objects, Data Docs and review pages, served by ``dangan serve`` (:mod:`dangan.web.server`).

A link is ``[web] base_url`` + a path + ``?t=<expiry>.<signature>``: an HMAC-SHA256 over the path (its scope)
and the expiry, with the key of :func:`signing_key`. Links carry object keys (content addresses), site codes and
document ids only: never a person's name or ID, never a ``file://`` path, never a pre-signed S3 URL (which would
carry the store's access key id). Data Docs links are scoped to the whole site folder (``/docs/{site}/``) so the
pages they link to relatively open with the same token.

Viewer tokens (:func:`mint_viewer_token`, ``dangan web token --actor NAME``) say who is looking and what they
were granted (``pii.reveal``); the review page shows personal data in clear only with one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dangan.config import validate_site_code
from dangan.errors import SiteCodeInvalid
from dangan.storage.base import validate_key
from dangan.web.errors import WebSecretUnavailable, WebTokenExpired, WebTokenInvalid

TOKEN_PARAM = "t"
VIEWER_COOKIE = "dangan_viewer"
MIN_SECRET_CHARS = 32
_LINK = b"dangan-web-link-v1"
_VIEWER = b"dangan-web-viewer-v1"


def signing_key(settings: Any) -> bytes:
    """The HMAC key: the variable named by ``[web] secret_env`` if set, else the key file (created if absent)."""
    web = settings.web
    from_env = os.environ.get(web.secret_env, "")
    if from_env:
        if len(from_env) < MIN_SECRET_CHARS:
            raise WebSecretUnavailable(
                f"the signing key in ${web.secret_env} is shorter than {MIN_SECRET_CHARS} characters",
                variable=web.secret_env,
            )
        return from_env.encode("utf-8")
    path = Path(web.secret_file) if web.secret_file else Path(settings.data_dir) / "web" / "secret.key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes creating it at once end up with the same key (the loser reads the winner's)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise WebSecretUnavailable(
            f"cannot read or create the link signing key file {path.name}: {type(exc).__name__}",
            file=str(path),
        ) from exc
    if len(text) < MIN_SECRET_CHARS:  # e.g. a writer killed between create and write
        raise WebSecretUnavailable(f"the link signing key file {path.name} is empty or too short", file=str(path))
    return text.encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, domain: bytes, *parts: str) -> str:
    message = domain + b"".join(b"\0" + p.encode("utf-8", "surrogatepass") for p in parts)
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:20])


def sign_scope(settings: Any, scope: str, ttl_s: int, *, now: float | None = None) -> str:
    """A link token for ``scope`` (a URL path, or a path prefix ending in ``/``), valid ``ttl_s`` seconds."""
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    expiry = int(now if now is not None else time.time()) + int(ttl_s)
    return f"{expiry}.{_mac(signing_key(settings), _LINK, scope, str(expiry))}"


def check_token(settings: Any, scope: str, token: str | None, *, now: float | None = None) -> int:
    """Return the expiry of a valid link ``token`` for ``scope``; raise :class:`WebTokenInvalid` or
    :class:`WebTokenExpired`. The signature is checked before the expiry, so a forged expiry is "invalid"."""
    if not token:
        raise WebTokenInvalid("the link carries no token", scope_kind=scope.split("/")[1] if "/" in scope else "")
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isascii() or not expiry_text.isdigit() or len(expiry_text) > 12 or not mac:
        raise WebTokenInvalid("the link token is malformed")
    if not hmac.compare_digest(mac, _mac(signing_key(settings), _LINK, scope, expiry_text)):
        raise WebTokenInvalid("the link token does not match this address or this server's key")
    expiry = int(expiry_text)
    if expiry < (now if now is not None else time.time()):
        raise WebTokenExpired("the link has expired", expired_at=expiry)
    return expiry


def _site(site: str) -> str:
    try:
        return validate_site_code(site)
    except ValueError as exc:
        raise SiteCodeInvalid(str(exc), site=repr(site)[:20]) from exc


def _url(settings: Any, path: str, token: str) -> str:
    return f"{settings.web.base_url}{quote(path, safe='/')}?{TOKEN_PARAM}={token}"


def object_path(site: str, key: str) -> str:
    """The server path of an object (unquoted; also the token's scope)."""
    return f"/objects/{_site(site)}/{validate_key(key)}"


def docs_scope(site: str) -> str:
    """Token scope of a site's Data Docs: the whole folder."""
    return f"/docs/{_site(site)}/"


def review_path(site: str, document_id: int) -> str:
    if isinstance(document_id, bool) or not isinstance(document_id, int) or document_id < 0:
        raise ValueError(f"document_id must be a non-negative int, got {type(document_id).__name__}")
    return f"/review/{_site(site)}/{document_id}"


def object_url(settings: Any, site: str, key: str, *, ttl_s: int = 3600) -> str:
    """A link that streams object ``key`` of ``site``'s store (checked by the server)."""
    path = object_path(site, key)
    return _url(settings, path, sign_scope(settings, path, ttl_s))


def data_docs_url(settings: Any, site: str, path: str = "index.html", *, ttl_s: int | None = None) -> str:
    """A link to a page of ``site``'s Great Expectations Data Docs (default lifetime ``[web] link_ttl_s``)."""
    scope = docs_scope(site)
    page = path.lstrip("/")
    if page:
        validate_key(page)
    return _url(settings, scope + page, sign_scope(settings, scope, ttl_s or settings.web.link_ttl_s))


def review_url(settings: Any, site: str, document_id: int, *, ttl_s: int | None = None) -> str:
    """A link to the review page of a document (page images, OCR text; masked unless the viewer may reveal)."""
    path = review_path(site, document_id)
    return _url(settings, path, sign_scope(settings, path, ttl_s or settings.web.link_ttl_s))


# --- viewer tokens -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    """Who holds a viewer token and what it grants (checked again against ``[access]`` when used)."""

    actor: str
    permissions: tuple[str, ...]
    expires: int


def mint_viewer_token(
    settings: Any, actor: str, permissions: list[str] | tuple[str, ...], *, ttl_s: int = 8 * 3600
) -> str:
    """A bearer token for ``actor`` with ``permissions``; the caller checks the grants first (``access.require``).

    Format ``v1.<payload>.<mac>``; the payload is readable (actor, permissions, expiry), only the key signs it.
    """
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    payload = {"a": actor, "p": sorted(set(permissions)), "e": int(time.time()) + int(ttl_s)}
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"v1.{body}.{_mac(signing_key(settings), _VIEWER, body)}"


def read_viewer_token(settings: Any, token: str, *, now: float | None = None) -> Viewer:
    """The :class:`Viewer` of a valid token, or :class:`WebTokenInvalid` / :class:`WebTokenExpired`."""
    version, _, rest = (token or "").partition(".")
    body, _, mac = rest.partition(".")
    if version != "v1" or not body or not mac or len(token) > 4096:
        raise WebTokenInvalid("the viewer token is malformed")
    if not hmac.compare_digest(mac, _mac(signing_key(settings), _VIEWER, body)):
        raise WebTokenInvalid("the viewer token was not signed by this server's key")
    try:
        payload = json.loads(_unb64(body))
        viewer = Viewer(str(payload["a"]), tuple(str(p) for p in payload["p"]), int(payload["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise WebTokenInvalid("the viewer token's payload is unreadable") from exc
    if viewer.expires < (now if now is not None else time.time()):
        raise WebTokenExpired("the viewer token has expired", expired_at=viewer.expires)
    return viewer


def data_docs_link(settings: Any, site: str, stored: str | None) -> str | None:
    """A served link for a Data Docs page recorded as a local path (``ValidationRun.data_docs``, the catalog's
    ``data_docs`` column), or None when none was built or it lies outside the site's Data Docs folder."""
    if not stored:
        return None
    from dangan.quality.rules import data_docs_dir

    text = stored.removeprefix("file://")
    if text.startswith(("http://", "https://")):
        return text if text.startswith(settings.web.base_url + "/") else None
    try:
        relative = Path(text).resolve().relative_to(data_docs_dir(settings, _site(site)).resolve())
    except ValueError:
        return None
    return data_docs_url(settings, site, relative.as_posix())
