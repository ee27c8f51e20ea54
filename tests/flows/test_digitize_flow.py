"""Flows under a real (temporary) Prefect server: digitize end to end, artifacts, retry policy."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.errors import CorruptImage, StoreUnavailable
from flows.params import config_ref
from tasks.common import retry_transient_only
from tests.ocr.pages import form_page

SITE = "330106"


def test_retry_only_transient_errors() -> None:
    def state(exc: Exception) -> SimpleNamespace:
        def result(raise_on_failure: bool = True) -> None:
            raise exc

        return SimpleNamespace(result=result)

    assert retry_transient_only(None, None, state(StoreUnavailable("down"))) is True
    assert retry_transient_only(None, None, state(CorruptImage("bad"))) is False
    assert retry_transient_only(None, None, state(ValueError("bug"))) is False


def test_digitize_flow_end_to_end(prefect_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from flows.digitize import digitize

    settings = load_settings(data_dir=tmp_path / "data")
    add_site(settings, SITE, "西湖区")
    src = tmp_path / "hot"
    src.mkdir()
    Image.fromarray(form_page()).save(src / "form.png", dpi=(300, 300))
    (src / "empty.tif").write_bytes(b"")
    report = digitize(source=str(src), site=SITE, config=config_ref(settings))
    assert report.ingest.accepted_files == 1
    assert [q.code for q in report.ingest.quarantined] == ["INGEST_EMPTY_FILE"]
    assert report.ocr.ok == 1 and report.ocr.documents_pdf == 1
    again = digitize(source=str(src), site=SITE, config=config_ref(settings))
    assert again.ocr.pages == 0  # catalog says it is done: nothing recomputed
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    keys = {a.key for a in artifacts}
    assert {f"ingest-summary-{SITE}", f"ocr-summary-{SITE}", f"digitize-summary-{SITE}"} <= keys
    stages = [a for a in artifacts if a.key == f"digitize-progress-{SITE}"]
    assert stages and {a.data for a in stages} == {100.0}  # both runs went through every stage


def test_artifacts_mask_resident_ids(prefect_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from flows.ingest import ingest_batch

    settings = load_settings(data_dir=tmp_path / "data")
    add_site(settings, SITE, "西湖区")
    src = tmp_path / "hot"
    src.mkdir()
    rid = "11010519491231002X"
    (src / f"{rid}.png").write_bytes(b"not an image " * 10)  # an operator named the file after the person
    ingest_batch(source=str(src), site=SITE, config=config_ref(settings))
    with get_client(sync_client=True) as client:
        bodies = [str(a.data) for a in client.read_artifacts() if a.key == f"ingest-summary-{SITE}"]
    assert bodies and all(rid not in b for b in bodies)
    assert any("110105********002X" in b for b in bodies)


def test_unknown_site_is_a_clear_error(prefect_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.exceptions import ParameterTypeError

    from dangan.errors import SiteNotFound
    from flows.ingest import ingest_batch

    settings = load_settings(data_dir=tmp_path / "data")
    add_site(settings, SITE, "西湖区")
    with pytest.raises(SiteNotFound):  # a well-formed code nobody registered
        ingest_batch(source=str(tmp_path), site="999999", config=config_ref(settings))
    with pytest.raises(ParameterTypeError, match="SITE_CODE_INVALID"):  # not a site code at all: refused at the door
        ingest_batch(source=str(tmp_path), site="33010", config=config_ref(settings))
