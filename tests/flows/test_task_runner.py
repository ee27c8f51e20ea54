"""Intra-flow parallelism by configuration: the same ingest flow on threads and on a local Dask cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dangan.catalog.sites import add_site
from dangan.config import load_settings
from flows.params import config_ref
from flows.runners import task_runner_for
from tests.ingest import badfiles


def test_runner_choice() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    assert isinstance(task_runner_for(load_settings(task_runner="threads")), ThreadPoolTaskRunner)
    dask = pytest.importorskip("prefect_dask", reason="prefect-dask is in the dev extra; install '.[dask]'")
    runner = task_runner_for(load_settings(task_runner="dask", dask_address="tcp://127.0.0.1:9"))
    assert isinstance(runner, dask.DaskTaskRunner)
    with pytest.raises(ValidationError):
        load_settings(task_runner="ray")


def test_ingest_flow_on_a_dask_cluster(prefect_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("prefect_dask", reason="prefect-dask is in the dev extra; install '.[dask]'")
    from flows.ingest import ingest_batch

    settings = load_settings(data_dir=tmp_path / "data", task_runner="dask", task_workers=2)
    add_site(settings, "330106", "西湖区")
    src = tmp_path / "hot"
    for i in range(4):
        badfiles.write(src, f"p{i}.png", badfiles.good_png(text_shade=i * 10))
    badfiles.write(src, "zero.tif", b"")
    flow = ingest_batch.with_options(task_runner=task_runner_for(settings))
    report = flow(source=str(src), site="330106", chunk_size=2, config=config_ref(settings))
    assert report.accepted_files == 4 and len(report.quarantined) == 1 and report.unaccounted == []
