"""open_store / describe_store_url: URL forms, credentials by reference only."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangan.errors import ConfigError
from dangan.storage import LocalStore, describe_store_url, open_store
from dangan.storage.s3 import S3Store
from tests.fixtures_s3 import S3TestServer


def test_plain_path_and_file_url(tmp_path: Path) -> None:
    by_path = open_store(str(tmp_path / "a"))
    by_url = open_store((tmp_path / "b").as_uri())
    assert isinstance(by_path, LocalStore) and by_path.root == tmp_path / "a"
    assert isinstance(by_url, LocalStore) and by_url.root == tmp_path / "b"
    assert open_store((tmp_path / "归档 c").as_uri()).name == f"local:{tmp_path / '归档 c'}"


@pytest.mark.parametrize("url", ["", "file://otherhost/x", "file:relative/x", "ftp://host/x"])
def test_bad_local_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_s3_url_with_credentials_from_named_env(s3_server: S3TestServer, s3_bucket: str) -> None:
    url = (
        f"s3://{s3_bucket}/county/330106?endpoint={s3_server.endpoint}&secure=false&region=us-east-1"
        "&access_key_env=MY_AK&secret_key_env=MY_SK&object_lock=true"
    )
    env = {"MY_AK": s3_server.access_key, "MY_SK": s3_server.secret_key}
    store = open_store(url, env=env)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint) == (s3_bucket, "county/330106", s3_server.endpoint)
    assert store.supports_retention()
    with pytest.raises(ConfigError, match="MY_SK"):
        open_store(url, env={"MY_AK": "x"})


@pytest.mark.parametrize(
    "url",
    [
        "s3://user:pass@bucket/p?endpoint=h:9000",
        "s3://bucket/p?endpoint=h:9000&access_key=AKIA&secret_key=SECRET",
        "s3://bucket/p?endpoint=h:9000&colour=blue",
        "s3://bucket/p?endpoint=h:9000&secure=maybe",
        "s3://bucket/p?endpoint=a&endpoint=b",
        "s3:///p?endpoint=h:9000",
    ],
)
def test_bad_s3_urls_refused_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_store(url, env={"DANGAN_S3_ACCESS_KEY": "a", "DANGAN_S3_SECRET_KEY": "b"})
    assert "pass" not in str(err.value) and "SECRET" not in str(err.value)


def test_describe_store_url_is_safe() -> None:
    text = describe_store_url("s3://user:hunter2@archive/330106?endpoint=minio:9000&region=cn-east-1&x=secret")
    assert text == "s3://archive/330106 @ minio:9000 (cn-east-1)"
    assert describe_store_url("file:///srv/dangan") == "local:/srv/dangan"
    assert describe_store_url("/srv/dangan") == "local:/srv/dangan"
    assert "hunter2" not in describe_store_url("https://u:hunter2@h/x")
