"""Engines and sessions for catalog URLs (SQLite embedded default, PostgreSQL for real sites)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dangan.errors import CatalogSchemaOutdated, CatalogUnavailable, ConfigError

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_before_savepoint(conn: Any, _name: Any) -> None:
    """Open the transaction before a SAVEPOINT that would otherwise be the first statement of one.

    The sqlite3 module begins a transaction only before INSERT/UPDATE/DELETE; a SAVEPOINT issued outside one
    starts its own, and releasing it COMMITS everything so far, so the rest of the session's work would no
    longer be atomic with it (an insert-or-get in a savepoint, then pages that fail, would leave the row).
    """
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        dbapi.execute("BEGIN")


def _withhold_server_detail(ctx: Any) -> BaseException | None:
    """Re-raise a PostgreSQL error with its primary message only.

    The server's DETAIL repeats the values of the offending row (``Key (site_code, resident_id)=(330106,
    33010619821207002X) already exists``), which ``hide_parameters`` cannot reach; the code, constraint name
    and the rest of ``diag`` stay available to callers. Same exception class, so ``except IntegrityError`` and
    friends behave as before.
    """
    from dangan.pii import scrub

    orig, wrapped = ctx.original_exception, ctx.sqlalchemy_exception
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if wrapped is None or not primary or str(orig).strip() == primary:
        return None
    orig.args = (scrub(primary) + " (server detail withheld: it may hold personal data)",)
    return type(wrapped)(
        wrapped.statement,
        wrapped.params,
        orig,
        hide_parameters=True,
        connection_invalidated=wrapped.connection_invalidated,
        ismulti=wrapped.ismulti,
    )


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and use psycopg 3; leave everything else alone."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def expand_secrets(url: str, env: Mapping[str, str] | None = None) -> str:
    """Replace ``${VAR}`` placeholders (credentials by reference) with URL-quoted environment values."""
    env = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(
                f"catalog URL needs environment variable {name}",
                variable=name,
                hint=f"export {name}=... in the worker's environment (or its Secret).",
            )
        return quote(env[name], safe="")

    return _PLACEHOLDER.sub(value, url)


def has_literal_password(url: str) -> bool:
    """True when the URL carries a password that is not a ``${VAR}`` reference."""
    password = make_url(normalize_url(url)).password
    return bool(password) and not _PLACEHOLDER.fullmatch(str(password))


def get_engine(url: str) -> Engine:
    """One pooled engine per URL per process (workers are long-lived; pools are meant to be shared)."""
    url = normalize_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = make_url(expand_secrets(url))
            # hide_parameters: a failed statement's message (IntegrityError, ...) must not carry the values it
            # bound (resident IDs, names) into tracebacks, logs and Prefect's records
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "savepoint", _sqlite_begin_before_savepoint)
            else:
                engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
                event.listen(engine, "handle_error", _withhold_server_detail)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# SQLite reports a missing table or column as an OperationalError, like a locked or unreachable database
_SCHEMA_MISSING = re.compile(r"no such (table|column)", re.IGNORECASE)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error; connection errors become transient."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        if _SCHEMA_MISSING.search(str(exc.orig)):
            raise CatalogSchemaOutdated(f"catalog schema is outdated: {exc.orig}", url=safe_url(url)) from exc
        raise CatalogUnavailable(f"catalog unavailable: {exc.orig}", url=safe_url(url)) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def safe_url(url: str) -> str:
    """URL with the password hidden, for messages."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)
