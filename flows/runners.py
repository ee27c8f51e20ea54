"""Task runner by configuration: threads (default) or a Dask cluster (prefect-dask) for intra-flow parallelism."""

from __future__ import annotations

from typing import Any

from dangan.config import Settings, load_settings
from dangan.errors import ConfigError


def task_runner_for(settings: Settings) -> Any:
    """The Prefect task runner ``settings`` ask for."""
    if settings.task_runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:
            raise ConfigError("task_runner = dask needs prefect-dask", hint="pip install 'dangan[dask]'") from exc
        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": settings.task_workers, "threads_per_worker": 1, "dashboard_address": None}
        )
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=settings.task_workers)


def default_task_runner() -> Any:
    """The runner for flows as deployed: settings from the worker's environment (DANGAN_TASK_RUNNER, ...)."""
    return task_runner_for(load_settings())
