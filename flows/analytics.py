"""Flow ``analytics``: a site's (or region's) contribution analytics as a dashboard artifact, with warning events.

The report is computed by :func:`dangan.analytics.site.build_report` (DuckDB over the sites' catalogs); the
markdown artifact ``analytics-{site}`` carries every chart as an embedded PNG (``data:`` URI: no link to a
server's disk) beside its numbers; a table artifact carries the warning metrics. Each warning line crossed emits
``dangan.analytics.warning`` for automations. Only aggregates leave the flow (cells below ``min_cell`` persons
are suppressed); person-level reports stay behind ``dangan person-report`` and its permission.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dangan.analytics.charts import markdown, render_charts
from dangan.analytics.site import DEFAULT_WARNINGS, ReportConfig, WarningLine, build_report
from flows.events import emit_domain_event
from flows.params import SiteCode, settings_for


def artifact_key(site: str | None, region: str | None = None) -> str:
    """Key of the markdown artifact of a site's (or region's) analytics."""
    return f"analytics-{site or 'region-' + (region or '')}"


@flow(name="analytics", log_prints=False)
def analytics(
    site: SiteCode | None = None,
    region: str | None = None,
    min_cell: int = 5,
    as_of: str | None = None,
    warnings: list[dict[str, Any]] | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """Build the report, publish the artifacts, emit one event per warning line crossed; returns the report.

    ``warnings``: ``[{"name", "metric", "threshold", "op": ">"|"<"}]`` (default: :data:`DEFAULT_WARNINGS`).
    """
    cfg = settings_for(config)
    lines = tuple(WarningLine(**w) for w in warnings) if warnings else DEFAULT_WARNINGS
    report = build_report(cfg, site, region, ReportConfig(min_cell=min_cell, warnings=lines, as_of=as_of))
    key = artifact_key(site, region)
    if report.get("empty"):
        create_markdown_artifact(f"# Contribution analytics — {site or region}\n\nNo contribution data yet.\n", key=key)
        return report
    create_markdown_artifact(markdown(report, render_charts(report)), key=key, description="Contribution analytics")
    create_table_artifact(
        [{"metric": k, "value": v} for k, v in report["metrics"].items()],
        key=f"{key}-metrics",
        description="Warning metrics (None: suppressed, fewer than min_cell persons)",
    )
    for w in report["warnings"]:
        get_run_logger().warning("warning line %s crossed: %s = %s", w["line"], w["metric"], w["value"])
        emit_domain_event("dangan.analytics.warning", site or report["sites"][0], w["line"], w)
    return report
