"""Prefect artifacts (kept in Prefect's database, shown to every dashboard user) never carry a pre-signed URL,
the S3 access key id, or a ``file://`` path of a scan: quarantined and QA-failed pages are named by object key."""

from __future__ import annotations

from pathlib import Path

from dangan.catalog.sites import add_site
from dangan.config import load_settings
from flows.params import config_ref
from tests.ingest import badfiles

SITE = "330106"


def test_ingest_artifacts_on_s3_carry_keys_not_presigned_urls(  # type: ignore[no-untyped-def]
    prefect_harness, s3_server, s3_bucket, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from flows.ingest import ingest_batch

    settings = load_settings(data_dir=tmp_path / "data")
    add_site(settings, SITE, "西湖区", store_url=s3_server.url(s3_bucket, "site"))
    src = tmp_path / "hot"
    badfiles.write(src, "low-dpi.png", badfiles.good_png(size=(300, 400), dpi=150))  # fails a QA gate
    badfiles.write(src, "zero.tif", b"")  # quarantined, kept in the store
    report = ingest_batch(source=str(src), site=SITE, config=config_ref(settings))
    assert report.quarantined and "QA_LOW_DPI" in report.qa_issues
    with get_client(sync_client=True) as client:
        bodies = {a.key: str(a.data) for a in client.read_artifacts() if a.key and a.key.startswith("ingest-")}
    summary = bodies[f"ingest-summary-{SITE}"]
    assert "`site/" in summary or "sites/" in summary  # the evidence is there, as object keys
    for key, body in bodies.items():
        assert "X-Amz-" not in body, key
        assert s3_server.access_key not in body, key
        assert "file://" not in body, key
        assert str(tmp_path / "data") not in body, key  # the store and catalog: the source folder may show
