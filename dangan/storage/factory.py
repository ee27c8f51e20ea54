"""Open a store from a URL: a path / ``file://`` URI, or ``s3://bucket/prefix?endpoint=…`` with credentials
given by reference (names of environment variables), never inline.

Example: ``s3://archive/330106?endpoint=127.0.0.1:9000&secure=false&region=us-east-1&object_lock=true``
reads the keys from ``DANGAN_S3_ACCESS_KEY`` / ``DANGAN_S3_SECRET_KEY`` unless ``access_key_env`` /
``secret_key_env`` name other variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dangan.errors import ConfigError
from dangan.storage.base import ObjectStore
from dangan.storage.local import LocalStore

DEFAULT_ACCESS_KEY_ENV = "DANGAN_S3_ACCESS_KEY"
DEFAULT_SECRET_KEY_ENV = "DANGAN_S3_SECRET_KEY"
DEFAULT_ENDPOINT = "s3.amazonaws.com"

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(text)


# Query options accepted on s3:// URLs and how to parse each (S3Store keyword → converter).
_S3_OPTIONS: dict[str, Callable[[str], Any]] = {
    "endpoint": str,
    "secure": _bool,
    "region": str,
    "create_bucket": _bool,
    "object_lock": _bool,
    "versioning": _bool,
    "retention_mode": str.upper,
    "connect_timeout": float,
    "read_timeout": float,
    "max_retries": int,
    "parallel_uploads": int,
}
_SECRET_OPTIONS = {"access_key", "secret_key", "password", "token", "session_token"}


def open_store(url: str, *, env: Mapping[str, str] = os.environ) -> ObjectStore:
    """Build the store a URL describes; ``ConfigError`` for anything malformed or unsafe."""
    text = str(url).strip()
    if not text:
        raise ConfigError("empty store URL")
    if text.startswith("s3://"):
        return _open_s3(text, env)
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"file URLs must be absolute local paths: {describe_store_url(text)}")
        return LocalStore(Path(unquote(parts.path)))
    if "://" in text:
        raise ConfigError(f"unsupported store URL scheme: {describe_store_url(text)}")
    return LocalStore(Path(text).expanduser().resolve())


def _open_s3(url: str, env: Mapping[str, str]) -> ObjectStore:
    from dangan.storage.s3 import S3Store  # keeps the minio import off the local-only path

    parts = urlsplit(url)
    shown = describe_store_url(url)
    if "@" in parts.netloc:
        raise ConfigError(
            f"credentials must not be written in the store URL: {shown}",
            hint="Put them in environment variables and name those with access_key_env= / secret_key_env=.",
        )
    bucket = parts.netloc
    if not bucket:
        raise ConfigError(f"s3 URL has no bucket: {shown}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigError(f"malformed query in store URL: {shown}") from None
    options: dict[str, Any] = {}
    key_envs = {"access_key_env": DEFAULT_ACCESS_KEY_ENV, "secret_key_env": DEFAULT_SECRET_KEY_ENV}
    for name, values in query.items():
        if name in _SECRET_OPTIONS:
            raise ConfigError(f"inline credential {name!r} refused in store URL; use {name}_env=VARIABLE")
        if len(values) != 1:
            raise ConfigError(f"store URL option {name!r} given {len(values)} times: {shown}")
        if name in key_envs:
            key_envs[name] = values[0]
            continue
        if name not in _S3_OPTIONS:
            raise ConfigError(f"unknown store URL option {name!r}: {shown}")
        try:
            options[name] = _S3_OPTIONS[name](values[0])
        except ValueError:
            raise ConfigError(f"bad value for store URL option {name!r}: {shown}") from None
    creds: dict[str, str] = {}
    for option, variable in key_envs.items():
        value = env.get(variable)
        if not value:
            raise ConfigError(f"environment variable {variable} (for {option}) is not set; needed by {shown}")
        creds[option] = value
    endpoint = options.pop("endpoint", DEFAULT_ENDPOINT)
    return S3Store(
        endpoint,
        bucket,
        unquote(parts.path).strip("/"),
        access_key=creds["access_key_env"],
        secret_key=creds["secret_key_env"],
        **options,
    )


def describe_store_url(url: str) -> str:
    """A display-safe rendering of a store URL: no user info, no query values except endpoint and region."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable store URL>"
    if parts.scheme == "s3":
        bucket = parts.netloc.rsplit("@", 1)[-1]
        query = parse_qs(parts.query, keep_blank_values=True)
        where = query.get("endpoint", [DEFAULT_ENDPOINT])[0]
        region = query.get("region", [""])[0]
        path = parts.path.strip("/")
        return f"s3://{bucket}/{path} @ {where}" + (f" ({region})" if region else "")
    if parts.scheme == "file":
        return f"local:{unquote(parts.path)}"
    if "://" in text:
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
    return f"local:{text}"
