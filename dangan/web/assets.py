"""Vendored Data Docs assets: GX's pages load Bootstrap, jQuery, Font Awesome, Vega... from public CDNs, which
the air-gapped county networks cannot reach (the pages rendered empty). The files ship under
``dangan/web/static/vendor/`` (licences beside them, sources in its README.md) and :func:`localize_html` points
GX's references at ``/static/vendor/...`` on the link server.

A CDN reference this table does not know (a GX upgrade adding one) is never left pointing outside: a stylesheet
becomes the local minimal stylesheet, a script is dropped, and the rewrite reports it so a test catches it.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/"
MINIMAL_CSS = "dangan-minimal.css"

_GX_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# CDN URL (as GX 1.x's templates write it) -> file under static/. Versions as GX pins them; bootstrap-table's
# filter-control 1.19.0 stylesheet is served by the 1.19.1 one (same rules). Majors for Vega as GX asks ("@5").
CDN_ASSETS: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "vendor/bootstrap-4.3.1/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "vendor/bootstrap-4.3.1/js/bootstrap.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "vendor/jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "vendor/popper.js-1.12.9/umd/popper.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "vendor/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "vendor/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "vendor/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "vendor/bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "vendor/bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "vendor/bootstrap-dark-1.1.0/css/bootstrap-prefers-dark.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "vendor/fontawesome-free-6.6.0/css/all.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vendor/vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vendor/vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vendor/vega-embed-6.29.0/vega-embed.min.js",
    # GX's logo (an <img> and a CSS background) from its S3 bucket; the package ships the long logo only.
    f"{_GX_ASSETS}logo-long.png": "vendor/great_expectations-1.24.1/logo-long.png",
    f"{_GX_ASSETS}full_logo_dark.png": "vendor/great_expectations-1.24.1/logo-long.png",
}

# <link ... href="http(s)://..."> and <script ... src="http(s)://..."> (any attribute order, either quote)
_LINK_TAG = re.compile(r"<link\b[^>]*?\bhref\s*=\s*([\"'])(https?://[^\"']+)\1[^>]*>", re.IGNORECASE)
_SCRIPT_TAG = re.compile(r"<script\b[^>]*?\bsrc\s*=\s*([\"'])(https?://[^\"']+)\1[^>]*>\s*</script\s*>", re.IGNORECASE)
_INTEGRITY = re.compile(r"\s(integrity|crossorigin)\s*=\s*([\"'])[^\"']*\2", re.IGNORECASE)
# what is left after links and scripts: <img src="http...">, and url(http...) in inline styles
_SRC_ATTR = re.compile(r"\bsrc\s*=\s*([\"'])(https?://[^\"']+)\1", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*([\"']?)(https?://[^\"')\s]+)\1\s*\)", re.IGNORECASE)


def _local(url: str) -> str | None:
    """The vendored file for a CDN ``url`` (a cache-busting query such as GX's ``?d=<time>`` ignored)."""
    return CDN_ASSETS.get(url) or CDN_ASSETS.get(url.split("?", 1)[0])


def localize_html(html: str, prefix: str = STATIC_PREFIX) -> tuple[str, list[str]]:
    """Point every external stylesheet and script of ``html`` at the served vendored copies.

    Returns the new HTML and the external URLs that had no vendored copy (replaced by the minimal stylesheet;
    scripts dropped; images emptied; CSS ``url()`` set to ``none``). Anchors (``<a href>`` to GX's site) stay:
    they load nothing until clicked. Idempotent: local references are left alone. Subresource-integrity attributes are
    removed with the CDN URL they pinned (the local file is the same release, minified differently for some).
    """
    unknown: list[str] = []

    def link(match: re.Match[str]) -> str:
        tag, url = match.group(0), match.group(2)
        local = _local(url)
        if local is None:
            unknown.append(url)
            if not re.search(r"\brel\s*=\s*[\"']?stylesheet", tag, re.IGNORECASE):
                return ""  # preconnect / icon / font hints: nothing local to point at
            local = MINIMAL_CSS
        return _INTEGRITY.sub("", tag.replace(url, prefix + local))

    def script(match: re.Match[str]) -> str:
        tag, url = match.group(0), match.group(2)
        local = _local(url)
        if local is None:
            unknown.append(url)
            return "<!-- external script removed: not available offline -->"
        return _INTEGRITY.sub("", tag.replace(url, prefix + local))

    def src(match: re.Match[str]) -> str:  # images: the vendored copy, else an empty image (no request)
        local = _local(match.group(2))
        if local is None:
            unknown.append(match.group(2))
        return f'src="{prefix + local if local else "data:,"}"'

    def css_url(match: re.Match[str]) -> str:
        local = _local(match.group(2))
        if local is None:
            unknown.append(match.group(2))
        return f"url('{prefix + local}')" if local else "none"

    html = _LINK_TAG.sub(link, html)
    html = _SCRIPT_TAG.sub(script, html)
    html = _SRC_ATTR.sub(src, html)
    html = _CSS_URL.sub(css_url, html)
    return html, unknown


def localize_tree(folder: Path) -> list[str]:
    """Rewrite every ``*.html`` under ``folder`` in place (after GX builds Data Docs); return unknown URLs."""
    unknown: list[str] = []
    for page in sorted(folder.rglob("*.html")):
        # another validation (a concurrent chunk) may be building the same docs: a page that vanished meanwhile
        # was replaced by a fresh build, which that validation localizes itself
        try:
            text = page.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        new, missing = localize_html(text)
        unknown += missing
        if new != text:
            fd, tmp = tempfile.mkstemp(dir=page.parent, prefix=f".{page.name}.", suffix=".localizing")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(new)
            try:
                os.replace(tmp, page)  # a reader (the server) never sees a half-written page
            except FileNotFoundError:  # the folder itself went away with a rebuild
                continue
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    return sorted(set(unknown))


def static_file(relative: str) -> Path | None:
    """The vendored file for a ``/static/`` path, or None (unknown, hidden, or outside the folder)."""
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return None
    path = STATIC_DIR.joinpath(*parts)
    try:
        path.resolve().relative_to(STATIC_DIR.resolve())
    except ValueError:
        return None
    return path if path.is_file() else None
