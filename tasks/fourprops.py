"""Prefect task for batch-level 四性检测 (DA/T 70-2018)."""

from __future__ import annotations

from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.fourprops import check_batch, store_report
from dangan.storage.factory import open_store
from tasks.common import retry_transient_only, settings_from


@task(name="four-properties", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=retry_transient_only)
def four_properties_task(settings: dict[str, Any], site: str, batch_id: str) -> dict[str, Any]:
    """Check the batch and keep the JSON report in the store; returns the report with its object key."""
    ref = get_site(settings_from(settings), site)
    store = open_store(ref.store_url)
    report = check_batch(ref.catalog_url, store, site, batch_id)
    return {**report.to_dict(), "object_key": store_report(store, report)}
