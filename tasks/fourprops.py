"""Prefect task for batch-level 四性检测 (DA/T 70-2018)."""

from __future__ import annotations

from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.fourprops import check_batch, store_report
from dangan.retry import STORE
from dangan.storage.factory import open_store
from tasks.common import task_retries


@task(name="four-properties", **task_retries(STORE))
def four_properties_task(settings: Settings, site: str, batch_id: str) -> dict[str, Any]:
    """Check the batch and keep the JSON report in the store; returns the report with its object key."""
    ref = get_site(settings, site)
    store = open_store(ref.store_url)
    report = check_batch(ref.catalog_url, store, site, batch_id)
    return {**report.to_dict(), "object_key": store_report(store, report)}
