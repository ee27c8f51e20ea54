"""Site signing keys, by reference: ``DANGAN_SITE_KEY_<CODE>`` or a generated key file (embedded default).

The key file ``{data_dir}/keys/{code}.key`` is created once with mode 0600 (exclusive create, so two
processes racing create one key) and holds 32 random bytes as hex. Keys never appear in logs or receipts;
receipts carry a ``key_id`` (first 16 hex digits of the key's SHA-256) so a verifier knows which key to ask for.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from dangan.config import Settings, validate_site_code
from dangan.errors import ConfigError

ENV_PREFIX = "DANGAN_SITE_KEY_"


def key_env_name(code: str) -> str:
    """Name of the environment variable holding ``code``'s key."""
    return ENV_PREFIX + validate_site_code(code)


def key_path(settings: Settings, code: str) -> Path:
    return settings.data_dir / "keys" / f"{validate_site_code(code)}.key"


def site_key(settings: Settings, code: str, *, create: bool = True) -> bytes:
    """The HMAC key of site ``code``: from the environment, else the key file (generated when ``create``)."""
    value = os.environ.get(key_env_name(code))
    if value:
        return value.encode()
    path = key_path(settings, code)
    if not path.exists():
        if not create:
            raise ConfigError(f"no signing key for site {code}", hint=f"Set {key_env_name(code)} or create {path}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; use theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"key file {path} is readable by others", hint=f"chmod 600 {path}")
    text = path.read_text().strip()
    if not text:
        raise ConfigError(f"key file {path} is empty")
    return text.encode()


def key_id(key: bytes) -> str:
    """A public identifier of a key (never the key itself)."""
    return hashlib.sha256(key).hexdigest()[:16]
