"""Pytest plugin: an S3 server for tests (moto's server as a real subprocess, or a real MinIO).

Loaded from the root ``tests/conftest.py`` with ``pytest_plugins = ["tests.fixtures_s3"]``.

Fixtures:
* ``s3_server`` (session): ``.endpoint`` ("127.0.0.1:PORT"), ``.access_key``, ``.secret_key``, ``.env`` (the
  credential variables the URLs reference), ``.url(bucket, prefix="", object_lock=False)`` (an ``s3://`` URL
  for ``dangan.storage.open_store``; also exports the credential variables into ``os.environ``),
  ``.minio_client()`` for inspecting the server directly, and ``.stop()`` / ``.start()`` to kill and restart
  the server on the same port (fault tests; moto forgets everything on restart).
* ``s3_bucket`` (function): a fresh, unique, not-yet-created bucket name.

Running the same suites against a real MinIO instead of moto::

    docker run -d -p 9000:9000 -e MINIO_ROOT_USER=minio -e MINIO_ROOT_PASSWORD=minio-secret \\
        quay.io/minio/minio server /data
    DANGAN_TEST_S3_ENDPOINT=127.0.0.1:9000 DANGAN_TEST_S3_ACCESS_KEY=minio \\
        DANGAN_TEST_S3_SECRET_KEY=minio-secret pytest tests/storage

``DANGAN_TEST_S3_SECURE=true`` selects https. Buckets are created per test and left behind. ``stop()`` /
``start()`` are unavailable against an external server (tests that need them are skipped).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

ACCESS_ENV = "DANGAN_TEST_S3_ACCESS_KEY"
SECRET_ENV = "DANGAN_TEST_S3_SECRET_KEY"
ENDPOINT_ENV = "DANGAN_TEST_S3_ENDPOINT"
SECURE_ENV = "DANGAN_TEST_S3_SECURE"
REGION = "us-east-1"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3TestServer:
    """A moto server subprocess (``external=False``) or a handle on a real S3 server."""

    endpoint: str
    access_key: str = "testing"
    secret_key: str = "testing"
    secure: bool = False
    external: bool = False
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    @property
    def env(self) -> dict[str, str]:
        """The credential variables that ``url()`` references."""
        return {ACCESS_ENV: self.access_key, SECRET_ENV: self.secret_key}

    def url(self, bucket: str, prefix: str = "", object_lock: bool = False) -> str:
        """An ``s3://`` store URL for ``open_store`` (credentials by reference, exported to os.environ)."""
        os.environ.update(self.env)
        query = (
            f"endpoint={self.endpoint}&secure={str(self.secure).lower()}&region={REGION}"
            f"&access_key_env={ACCESS_ENV}&secret_key_env={SECRET_ENV}"
            f"&object_lock={str(object_lock).lower()}&connect_timeout=2&read_timeout=20&max_retries=1"
        )
        return f"s3://{bucket}/{prefix.strip('/')}?{query}"

    def minio_client(self) -> Any:
        """A raw ``minio.Minio`` client on this server."""
        from minio import Minio

        return Minio(self.endpoint, self.access_key, self.secret_key, secure=self.secure, region=REGION)

    def start(self, timeout: float = 20.0) -> None:
        """Start moto on ``self.port`` and wait until it answers HTTP."""
        if self.external:
            pytest.skip("cannot start/stop an external S3 server")
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._proc.returncode}")
            try:
                urllib.request.urlopen(f"http://{self.endpoint}/", timeout=0.5).close()
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it is up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within {timeout}s")

    def stop(self) -> None:
        """Kill the moto subprocess (its port stays reserved for ``start``)."""
        if self.external:
            pytest.skip("cannot start/stop an external S3 server")
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._proc = None


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    """A running S3 server for the whole session (moto unless DANGAN_TEST_S3_ENDPOINT is set)."""
    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:
        yield S3TestServer(
            endpoint=endpoint,
            access_key=os.environ[ACCESS_ENV],
            secret_key=os.environ[SECRET_ENV],
            secure=os.environ.get(SECURE_ENV, "false").lower() == "true",
            external=True,
        )
        return
    server = S3TestServer(endpoint=f"127.0.0.1:{free_port()}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3TestServer) -> str:
    """A fresh, unique bucket name (not created: stores create their bucket on open)."""
    if not s3_server.external:
        s3_server.start()  # heal after a fault test that stopped the server and failed
    return f"dangan-test-{uuid.uuid4().hex[:16]}"
