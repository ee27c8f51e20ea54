"""Store fixtures: ``store`` runs each contract test on a LocalStore and on an S3Store (moto or MinIO)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from dangan.storage import LocalStore, ObjectStore, open_store
from dangan.storage.s3 import S3Store
from tests.fixtures_s3 import S3TestServer


def sha(data: bytes) -> str:
    """Hex SHA-256 (test helper)."""
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def s3_store(s3_server: S3TestServer, s3_bucket: str) -> S3Store:
    """An S3Store on a fresh object-lock bucket, opened through the factory as production code would."""
    store = open_store(s3_server.url(s3_bucket, prefix="site/330106", object_lock=True))
    assert isinstance(store, S3Store)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    yield request.getfixturevalue(f"{request.param}_store")


def leftovers(store: ObjectStore) -> list[str]:
    """Everything physically present besides published objects: temp files, claims, S3 object versions."""
    if isinstance(store, LocalStore):
        return sorted(
            p.relative_to(store.root).as_posix()
            for sub in (".tmp", ".meta")
            for p in (store.root / sub).rglob("*")
            if p.is_file()
        )
    assert isinstance(store, S3Store)
    return sorted(
        f"{o.object_name}@{o.version_id}"
        for o in store.client.list_objects(store.bucket, recursive=True, include_version=True)
    )
