"""The ``analytics`` flow publishes a markdown artifact with embedded charts and emits warning events."""

from __future__ import annotations

from pathlib import Path

from dangan.config import load_settings
from tests.analytics.test_catalog_report import SITE, seed


def test_analytics_flow_publishes_charts(prefect_harness, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from prefect.artifacts import Artifact

    import flows.analytics as module

    data = tmp_path / "d"
    seed(data, persons=15)
    monkeypatch.setattr(module, "settings_for", lambda _config: load_settings(data_dir=data))
    emitted: list[tuple[str, str]] = []
    monkeypatch.setattr(
        module, "emit_domain_event", lambda event, site, subject, payload: emitted.append((event, subject))
    )
    report = module.analytics(site=SITE, warnings=[{"name": "any-gap", "metric": "gap_share_3", "threshold": -1.0}])
    assert report["persons"] == 15
    assert emitted == [("dangan.analytics.warning", "any-gap")]
    artifact = Artifact.get(module.artifact_key(SITE))
    assert artifact is not None and isinstance(artifact.data, str)
    assert artifact.data.count("data:image/png;base64,") == 6 and "any-gap" in artifact.data
