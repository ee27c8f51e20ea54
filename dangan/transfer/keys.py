"""Site signing keys: one Ed25519 key pair per site, and a registry of the public keys this installation trusts.

A site's **private key** signs the bags it sends and the receipts it issues. It lives in a PEM file (PKCS#8) with
mode 0600: the file named by ``DANGAN_SITE_KEY_FILE_<CODE>`` (a path outside every data folder: a mounted secret,
a smart-card export), else ``{data_dir}/keys/{code}.ed25519.pem``, created on first use for a site this
installation operates (embedded default). The private key never leaves that file: not into catalogs, logs, bags or
receipts.

The **public keys** are in the home catalog's ``site_key`` table: the site's own (registered when created) and other
counties' (imported by an administrator from the file ``dangan keys export`` writes there). Each key has a
status: ``active`` (the one the site signs with), ``retired`` (rotated out: signatures made before its retirement
still verify) and ``revoked`` (compromised: nothing it signed is accepted any more, whatever date it claims).
Every registry change is an audit event.

SM2 (GB/T 32918, for the national-standard profile) fits the same registry (``algorithm`` column); it is not
implemented here yet, so a registry entry of another algorithm is refused with a clear code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import SiteKey
from dangan.config import Settings, validate_site_code
from dangan.errors import ConfigError
from dangan.transfer.errors import SignatureRefused

ALGORITHM = "Ed25519"
ENV_PREFIX = "DANGAN_SITE_KEY_FILE_"
PUBLIC_FORMAT = "dangan-site-key/1"
ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"


def key_env_name(code: str) -> str:
    """Name of the environment variable that may hold the path of ``code``'s private key file."""
    return ENV_PREFIX + validate_site_code(code)


def key_path(settings: Settings, code: str) -> Path:
    """Where site ``code``'s private key file is (the environment's path, else the data folder's)."""
    named = os.environ.get(key_env_name(code))
    return Path(named) if named else settings.data_dir / "keys" / f"{validate_site_code(code)}.ed25519.pem"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: bytes) -> str:
    """A public identifier of a key: the first 32 hex digits of the SHA-256 of its raw public bytes."""
    return hashlib.sha256(public).hexdigest()[:32]


def canonical(obj: Any) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Signer:
    """A site's private key, ready to sign (deterministic: Ed25519 gives the same signature for the same bytes)."""

    site: str
    key_id: str
    private: Ed25519PrivateKey

    def sign(self, data: bytes) -> str:
        """Base64 signature of ``data``."""
        return base64.b64encode(self.private.sign(data)).decode()


@dataclass(frozen=True)
class PublicKeyInfo:
    """A registry row as plain values (what ``dangan keys list`` shows)."""

    key_id: str
    site: str
    algorithm: str
    public_key: str  # base64 of the raw key
    status: str
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None
    reason: str | None

    @classmethod
    def of(cls, row: SiteKey) -> PublicKeyInfo:
        return cls(
            row.key_id,
            row.site_code,
            row.algorithm,
            row.public_key,
            row.status,
            row.created_at,
            row.retired_at,
            row.revoked_at,
            row.revoked_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "site": self.site,
            "algorithm": self.algorithm,
            "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "reason": self.reason,
        }


# --- private keys -------------------------------------------------------------------------------------------
def _read_private(path: Path) -> Ed25519PrivateKey:
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"key file {path} is readable by others", hint=f"chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"key file {path} is not a PEM Ed25519 private key", hint="Restore it from its backup."
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"key file {path} holds a {type(key).__name__}, not Ed25519")
    return key


def _write_private(path: Path, key: Ed25519PrivateKey) -> bool:
    """Create ``path`` (mode 0600) atomically and exclusively: the key is written to a private temp file, then
    hard-linked into place, so a racing reader never sees half a key and two racing writers create one key.
    False when ``path`` existed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def signer(settings: Settings, code: str, *, create: bool = True, actor: str | None = None) -> Signer:
    """Site ``code``'s signing key. Generated (and its public key registered) on first use when ``create``.

    Refuses a key the registry marks revoked or retired (rotate with ``dangan keys rotate``), and a key file whose
    public key the registry does not list for this site while the site has another active key.
    """
    path = key_path(settings, code)
    if not path.exists():
        if not create or os.environ.get(key_env_name(code)):
            raise ConfigError(
                f"no signing key for site {code} at {path}",
                hint=f"Create one with `dangan keys init --site {code}`, or point {key_env_name(code)} at it.",
            )
        _write_private(path, Ed25519PrivateKey.generate())
    private = _read_private(path)
    public = raw_public(private.public_key())
    kid = key_id_of(public)
    info = register_public_key(
        settings, code, public, actor=actor or settings.actor, own=True, encryption=_x25519_public(private)
    )
    if info.status != ACTIVE:
        raise SignatureRefused(
            f"the signing key {kid} of site {code} is {info.status}; it may no longer sign",
            reason="SIGNING_KEY_" + info.status.upper(),
            key_id=kid,
            hint=f"Rotate to a new key: `dangan keys rotate --site {code}`.",
        )
    return Signer(code, kid, private)


# --- the public-key registry ----------------------------------------------------------------------------------
def register_public_key(
    settings: Settings, code: str, public: bytes, *, actor: str, own: bool = False, encryption: bytes | None = None
) -> PublicKeyInfo:
    """Add ``code``'s public key to the registry (idempotent). A site's first key, or its own freshly generated
    key when it has no active one, becomes active; an imported key of a site that already has an active key is
    refused (rotation happens at that site and is imported as its new key with ``--replace``)."""
    validate_site_code(code)
    if len(public) != 32:
        raise ConfigError(f"an Ed25519 public key has 32 bytes, this one {len(public)}")
    try:
        return _register(settings, code, public, actor=actor, own=own, encryption=encryption)
    except IntegrityError:  # another process registered the same key at the same moment: theirs stands
        return _register(settings, code, public, actor=actor, own=own, encryption=encryption)


def _register(
    settings: Settings, code: str, public: bytes, *, actor: str, own: bool, encryption: bytes | None
) -> PublicKeyInfo:
    kid = key_id_of(public)
    with session_scope(settings.home_catalog_url) as s:
        row = s.get(SiteKey, kid)
        if row is not None:
            if row.site_code != code:
                raise ConfigError(f"key {kid} is registered for site {row.site_code}, not {code}", key_id=kid)
            if encryption and not row.encryption_key:  # registered before sealed bags existed
                row.encryption_key = base64.b64encode(encryption).decode()
            return PublicKeyInfo.of(row)
        active = s.scalars(select(SiteKey).where(SiteKey.site_code == code, SiteKey.status == ACTIVE)).first()
        if active is not None and not own:
            raise ConfigError(
                f"site {code} already has an active key ({active.key_id})",
                hint=f"To accept its rotated key: `dangan keys import FILE --replace` (retires {active.key_id}).",
            )
        if active is not None and own:
            raise ConfigError(
                f"the key file of site {code} does not match its registered active key {active.key_id}",
                hint="Restore the site's key file, or rotate deliberately with `dangan keys rotate`.",
            )
        row = SiteKey(
            key_id=kid,
            site_code=code,
            algorithm=ALGORITHM,
            public_key=base64.b64encode(public).decode(),
            encryption_key=base64.b64encode(encryption).decode() if encryption else None,
            status=ACTIVE,
        )
        s.add(row)
        s.flush()
        record(
            s,
            actor=actor,
            action="key.registered",
            entity_type="site_key",
            entity_id=kid,
            site_code=code,
            details={"algorithm": ALGORITHM, "own": own},
        )
        return PublicKeyInfo.of(row)


def export_public_key(settings: Settings, code: str) -> dict[str, Any]:
    """The site's active public key as a JSON document to hand to other counties (no secret in it)."""
    info = active_key(settings, code)
    doc = {
        "format": PUBLIC_FORMAT,
        "site": code,
        "algorithm": info.algorithm,
        "key_id": info.key_id,
        "public_key": info.public_key,
    }
    path = key_path(settings, code)
    if path.exists():  # our own site: add the encryption key, bound to the signing key by a signature
        private = _read_private(path)
        if key_id_of(raw_public(private.public_key())) == info.key_id:
            enc = _x25519_public(private)
            doc["encryption_key"] = base64.b64encode(enc).decode()
            doc["encryption_key_signature"] = base64.b64encode(private.sign(_ENC_BINDING + enc)).decode()
    return doc


def import_public_key(settings: Settings, doc: dict[str, Any], *, actor: str, replace: bool = False) -> PublicKeyInfo:
    """Register another site's public key from an exported document; ``replace`` retires its active key first."""
    if not isinstance(doc, dict) or doc.get("format") != PUBLIC_FORMAT or doc.get("algorithm") != ALGORITHM:
        raise ConfigError("not a dangan site key document (format dangan-site-key/1, Ed25519)")
    try:
        public = base64.b64decode(str(doc["public_key"]), validate=True)
        code = validate_site_code(str(doc["site"]))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"malformed site key document: {exc}") from exc
    if doc.get("key_id") not in (None, key_id_of(public)):
        raise ConfigError("the document's key_id does not match its public key")
    encryption = None
    if doc.get("encryption_key"):
        try:
            encryption = base64.b64decode(str(doc["encryption_key"]), validate=True)
            Ed25519PublicKey.from_public_bytes(public).verify(
                base64.b64decode(str(doc.get("encryption_key_signature", "")), validate=True), _ENC_BINDING + encryption
            )
        except (ValueError, InvalidSignature) as exc:
            raise ConfigError("the document's encryption key is not signed by its signing key") from exc
    if replace:
        _set_status(settings, code, None, RETIRED, actor=actor, reason="replaced by an imported key")
    return register_public_key(settings, code, public, actor=actor, encryption=encryption)


def rotate_key(settings: Settings, code: str, *, actor: str) -> PublicKeyInfo:
    """A new key pair for site ``code``: the old key is retired (what it signed still verifies), the new one is
    active. The old private key file is kept beside it as ``*.retired-<key_id>`` for the key custodian."""
    path = key_path(settings, code)
    old: Signer | None = signer(settings, code, create=False, actor=actor) if path.exists() else None
    if old is not None:
        _set_status(settings, code, old.key_id, RETIRED, actor=actor, reason="rotated")
        path.rename(path.with_name(path.name + f".retired-{old.key_id}"))
    new = Ed25519PrivateKey.generate()
    if not _write_private(path, new):
        raise ConfigError(f"{path} appeared while rotating; another rotation ran at the same time")
    return register_public_key(
        settings, code, raw_public(new.public_key()), actor=actor, own=True, encryption=_x25519_public(new)
    )


def revoke_key(settings: Settings, key_id: str, *, reason: str, actor: str) -> PublicKeyInfo:
    """Revoke a key (compromised, lost): nothing it signed is accepted any more."""
    if not reason.strip():
        raise ConfigError("a revocation needs a reason", hint="--reason '…'")
    with session_scope(settings.home_catalog_url) as s:
        row = s.get(SiteKey, key_id)
        if row is None:
            raise ConfigError(f"no key {key_id} in the registry", hint="List keys with `dangan keys list`.")
        code = row.site_code
    _set_status(settings, code, key_id, REVOKED, actor=actor, reason=reason)
    return key_info(settings, key_id)


def _set_status(settings: Settings, code: str, key_id: str | None, status: str, *, actor: str, reason: str) -> None:
    """Move ``key_id`` (or the site's active key when None) to ``status`` with an audit event."""
    with session_scope(settings.home_catalog_url) as s:
        stmt = select(SiteKey).where(SiteKey.site_code == code)
        stmt = stmt.where(SiteKey.key_id == key_id) if key_id else stmt.where(SiteKey.status == ACTIVE)
        for row in s.scalars(stmt):
            if row.status == REVOKED:
                continue  # revocation is final
            now = datetime.now(UTC)
            row.status = status
            if status == RETIRED:
                row.retired_at = now
            else:
                row.revoked_at, row.revoked_reason = now, reason
            record(
                s,
                actor=actor,
                action=f"key.{status}",
                entity_type="site_key",
                entity_id=row.key_id,
                site_code=code,
                details={"reason": reason},
            )


def key_info(settings: Settings, key_id: str) -> PublicKeyInfo:
    with session_scope(settings.home_catalog_url) as s:
        row = s.get(SiteKey, key_id)
        if row is None:
            raise ConfigError(f"no key {key_id} in the registry")
        return PublicKeyInfo.of(row)


def active_key(settings: Settings, code: str) -> PublicKeyInfo:
    with session_scope(settings.home_catalog_url) as s:
        row = s.scalars(select(SiteKey).where(SiteKey.site_code == code, SiteKey.status == ACTIVE)).first()
        if row is None:
            raise ConfigError(f"site {code} has no active key", hint=f"`dangan keys init --site {code}`")
        return PublicKeyInfo.of(row)


def list_keys(settings: Settings, code: str | None = None) -> list[PublicKeyInfo]:
    with session_scope(settings.home_catalog_url) as s:
        stmt = select(SiteKey).order_by(SiteKey.site_code, SiteKey.created_at)
        if code:
            stmt = stmt.where(SiteKey.site_code == code)
        return [PublicKeyInfo.of(r) for r in s.scalars(stmt)]


# --- encryption keys (sealed bags for removable media) ---------------------------------------------------------
_ENC_BINDING = b"dangan-encryption-key/1:"


def _x25519_private(private: Ed25519PrivateKey) -> X25519PrivateKey:
    """The site's encryption key, derived from its signing key: one key pair to keep, rotate and revoke."""
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dangan-site-x25519/1").derive(seed)
    return X25519PrivateKey.from_private_bytes(derived)


def _x25519_public(private: Ed25519PrivateKey) -> bytes:
    return (
        _x25519_private(private).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


@dataclass(frozen=True)
class EncryptionKey:
    """A site's public encryption key, named by the id of the signing key it belongs to."""

    site: str
    key_id: str
    public: X25519PublicKey


def encryption_public_key(settings: Settings, code: str) -> EncryptionKey:
    """``code``'s active encryption key from the registry (to seal a bag for that site)."""
    info = active_key(settings, code)
    with session_scope(settings.home_catalog_url) as s:
        row = s.get(SiteKey, info.key_id)
        enc = row.encryption_key if row is not None else None
    if not enc:
        raise ConfigError(
            f"the registry has no encryption key for site {code}",
            hint=f"Import site {code}'s key document again (`dangan keys import FILE`): newer exports carry one.",
        )
    return EncryptionKey(code, info.key_id, X25519PublicKey.from_public_bytes(base64.b64decode(enc)))


def encryption_private_keys(settings: Settings, code: str) -> dict[str, X25519PrivateKey]:
    """This site's encryption keys by signing-key id: the current key file and retired ones kept beside it (a
    bag sealed before a rotation still opens). Revoked keys are left out."""
    path = key_path(settings, code)
    found: dict[str, X25519PrivateKey] = {}
    for candidate in [path, *sorted(path.parent.glob(path.name + ".retired-*"))]:
        if not candidate.is_file():
            continue
        private = _read_private(candidate)
        kid = key_id_of(raw_public(private.public_key()))
        with session_scope(settings.home_catalog_url) as s:
            row = s.get(SiteKey, kid)
            if row is None or row.site_code != code or row.status == REVOKED:
                continue
        found[kid] = _x25519_private(private)
    return found


# --- verification -------------------------------------------------------------------------------------------
class Trust:
    """What a verifier trusts: the registry's public keys. ``check`` raises :class:`SignatureRefused` with a
    stable ``reason`` (SIGNATURE_UNKNOWN_KEY, SIGNATURE_WRONG_SITE, SIGNATURE_KEY_REVOKED, SIGNATURE_KEY_RETIRED,
    SIGNATURE_ALGORITHM, SIGNATURE_INVALID)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, site: str, key_id: str, algorithm: str, data: bytes, signature: str, signed_at: str | None) -> None:
        """Raise unless ``signature`` over ``data`` is by a key the registry holds for ``site`` and still honours."""

        def refuse(reason: str, message: str, hint: str | None = None) -> SignatureRefused:
            return SignatureRefused(message, reason=reason, site=site, key_id=key_id, hint=hint)

        if algorithm != ALGORITHM:
            raise refuse("SIGNATURE_ALGORITHM", f"signature algorithm {algorithm!r} is not supported here")
        with session_scope(self.settings.home_catalog_url) as s:
            row = s.get(SiteKey, str(key_id))
            info = PublicKeyInfo.of(row) if row is not None else None
        if info is None:
            raise refuse(
                "SIGNATURE_UNKNOWN_KEY",
                f"signed with key {key_id}, which is not registered for any site here",
                hint=f"Ask site {site} for its public key file (`dangan keys export --site {site}`) and import it "
                "with `dangan keys import FILE` after checking its key_id by phone.",
            )
        if info.site != site:
            raise refuse("SIGNATURE_WRONG_SITE", f"key {key_id} belongs to site {info.site}, not {site}")
        if info.status == REVOKED:
            raise refuse("SIGNATURE_KEY_REVOKED", f"key {key_id} of site {site} was revoked ({info.reason})")
        if info.status == RETIRED and not _before(signed_at, info.retired_at):
            raise refuse("SIGNATURE_KEY_RETIRED", f"key {key_id} of site {site} was retired before this was signed")
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(info.public_key)).verify(
                base64.b64decode(signature, validate=True), data
            )
        except (InvalidSignature, ValueError) as exc:
            raise refuse("SIGNATURE_INVALID", "the signature does not match the signed content") from exc


def _before(signed_at: str | None, retired_at: datetime | None) -> bool:
    """True when the claimed signing time lies before the key's retirement (naive times from SQLite are UTC)."""
    if not signed_at or retired_at is None:
        return False
    try:
        when = datetime.fromisoformat(signed_at)
    except ValueError:
        return False
    norm = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in (when, retired_at)]
    return norm[0] <= norm[1]


#: How verifiers are handed a trust store (tests pass one built on their own settings).
TrustFactory = Callable[[Settings], Trust]
