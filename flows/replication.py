"""Flows ``replication`` and ``replica-audit`` (定期检测和拷贝): keep a verified second copy of every master at
each ``[replication]`` target, and re-hash those copies on their own schedule.

Both end with a markdown summary and a table artifact per site, and a Prefect event per object that needs a
person (``dangan.replication.failed``, ``dangan.replication.damaged`` / ``missing``).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dangan.replication.replicate import TargetSummary
from dangan.replication.report import failure_rows, replication_markdown, summary_rows
from flows.events import emit_domain_event
from flows.params import SiteCode, settings_for
from flows.runners import default_task_runner
from tasks.replication import audit_task, chunk_task, finish_task, plan_task


@flow(name="replication", log_prints=False, task_runner=default_task_runner())
def replication(site: SiteCode, targets: list[str] | None = None, config: str | None = None) -> list[TargetSummary]:
    """Copy every master of ``site`` that a target lacks (idempotent, resumable); one summary per target.

    ``config``: where the settings are (see :func:`flows.params.settings_for`)."""
    cfg = settings_for(config)
    plan = plan_task(cfg, site, targets)
    futures = {
        t.name: [chunk_task.submit(cfg, site, t, keys, plan.run_id, index=i) for i, keys in enumerate(chunks)]
        for t in plan.targets
        for chunks in [plan.chunks[t.name]]
    }
    results = {name: [f.result() for f in fs] for name, fs in futures.items()}
    summaries = finish_task(cfg, plan, results)
    _publish(site, f"Replication — site {site}", "replication", summaries, "failed")
    get_run_logger().info(
        "replication %s: %s",
        plan.run_id[:12],
        "; ".join(f"{s.target}: copied {s.copied}, recopied {s.recopied}" for s in summaries) or "no targets",
    )
    return summaries


@flow(name="replica-audit", log_prints=False)
def replica_audit(
    site: SiteCode,
    targets: list[str] | None = None,
    sample_fraction: float = 1.0,
    seed: int | None = None,
    config: str | None = None,
) -> list[TargetSummary]:
    """Re-hash the copies of ``site``'s masters at each target; damaged or missing ones are marked for recopy."""
    summaries = audit_task(settings_for(config), site, targets, sample_fraction, seed)
    _publish(site, f"Replica audit — site {site}", "replica-audit", summaries, None)
    return summaries


def _publish(site: str, title: str, kind: str, summaries: list[TargetSummary], event: str | None) -> None:
    create_markdown_artifact(replication_markdown(title, summaries), key=f"{kind}-summary-{site}", description=title)
    create_table_artifact(summary_rows(summaries), key=f"{kind}-targets-{site}", description=title)
    for row in failure_rows(summaries):
        name = event or ("missing" if row["code"] == "REPLICA_MISSING" else "damaged")
        details = {"target": row["target"], "code": row["code"]}
        emit_domain_event(f"dangan.replication.{name}", site, row["key"], details)
