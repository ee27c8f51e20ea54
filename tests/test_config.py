"""Settings: catalog passwords only by reference; the ``[derive]`` section reaches the OCR derivatives."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.errors import ConfigError
from dangan.imaging.derive import DeriveParams
from flows.params import config_ref, settings_for
from tests.ingest import badfiles


def test_catalog_url_with_literal_password_is_refused(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path, catalog_url="postgresql://dangan:s3cret-pw@db/dangan")
    message = f"{info.value} {info.value.details}"
    assert "s3cret-pw" not in message  # the refusal does not repeat the password
    assert "${" in info.value.message and "catalog_url" in info.value.message
    monkeypatch.setenv("DANGAN_CATALOG_URL", "postgresql+psycopg://dangan:s3cret-pw@db:5432/dangan")
    with pytest.raises(ConfigError):  # from the environment too
        load_settings(data_dir=tmp_path)


def test_catalog_url_password_by_reference_is_kept(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DANGAN_CATALOG_URL", raising=False)
    url = "postgresql://dangan:${DANGAN_PG_PASSWORD}@db/dangan"
    settings = load_settings(data_dir=tmp_path, catalog_url=url)
    ref = config_ref(settings)  # what flow runs receive: a settings file holding the password's reference only
    assert "${DANGAN_PG_PASSWORD}" in Path(ref).read_text() and settings_for(ref).catalog_url == url
    for fine in ("postgresql://dangan@db/dangan", f"sqlite:///{tmp_path}/c.db", None):
        assert load_settings(data_dir=tmp_path, catalog_url=fine).catalog_url == fine


def test_derive_settings_mirror_derive_params() -> None:
    from dangan.config import DeriveSettings

    assert set(DeriveSettings.model_fields) == set(DeriveParams.model_fields)
    assert DeriveParams(**DeriveSettings().model_dump()) == DeriveParams()


def test_derive_settings_change_the_recorded_derivative(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dangan.ingest.batch import ingest_batch_local

    monkeypatch.setenv("DANGAN_DERIVE__DENOISE", "none")
    settings = load_settings(data_dir=tmp_path / "data", derive={"target_dpi": 400})
    assert settings.derive.denoise == "none" and settings.derive.target_dpi == 400
    ref = add_site(settings, "330106", "杭州市西湖区")
    badfiles.write(tmp_path / "hot", "a.png", badfiles.good_png(dpi=300))
    report = ingest_batch_local(settings, "330106", str(tmp_path / "hot"))
    assert report.accepted_files == 1
    with session_scope(ref.catalog_url) as s:
        [deriv] = s.scalars(select(Derivative)).all()
        assert deriv.params["denoise"] == "none" and deriv.params["target_dpi"] == 400
        assert deriv.params["output_dpi"] == 400.0
    with pytest.raises(ValueError):
        load_settings(data_dir=tmp_path, derive={"denoise": "blur"})
