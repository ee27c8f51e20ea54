"""Ingest fixtures: a generated sample batch (session-scoped, small) and a site on the embedded default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dangan.catalog.sites import SiteRef, add_site
from dangan.config import Settings, load_settings

SITE = "330106"


@pytest.fixture(scope="session")
def sample_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two persons' documents, degraded pages and deliberately bad files (generated once per session)."""
    from dangan.samples import generate_samples

    out = tmp_path_factory.mktemp("samples")
    generate_samples(out, 2, seed=7, site=SITE, dpi=(200, 300))
    return out


@pytest.fixture
def batch_copy(sample_batch: Path, tmp_path: Path) -> Path:
    """A private copy of the sample batch (tests add, break or remove files)."""
    dst = tmp_path / "batch"
    shutil.copytree(sample_batch, dst)
    return dst


@pytest.fixture
def site_settings(tmp_path: Path) -> tuple[Settings, SiteRef]:
    s = load_settings(data_dir=tmp_path / "data")
    ref = add_site(s, SITE, "杭州市西湖区")
    return s, ref
