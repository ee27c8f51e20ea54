"""Prefect tasks for scheduled replication: plan, one task per chunk of masters and target, summary; audit.

Retries: :data:`dangan.retry.STORE` (plan and summary: ``CATALOG``), for transient errors only (an unreachable
store, an unmounted removable medium); a damaged master is an outcome in the summary, never retried.
"""

from __future__ import annotations

from prefect import task

from dangan.config import Settings
from dangan.replication import (
    ReplicaTarget,
    ReplicationPlan,
    TargetSummary,
    audit_replicas,
    finish_replication,
    plan_replication,
    replicate_chunk,
)
from dangan.retry import CATALOG, STORE
from tasks.common import SLOT_LEASE_S, task_retries


@task(name="replication-plan", **task_retries(CATALOG))
def plan_task(settings: Settings, site: str, targets: list[str] | None) -> ReplicationPlan:
    """Per target, the masters of ``site`` without a verified copy there, in chunks."""
    return plan_replication(settings, site, targets)


@task(name="replication-chunk", task_run_name="replication-{target.name}-{index}", **task_retries(STORE))
def chunk_task(
    settings: Settings, site: str, target: ReplicaTarget, keys: list[str], run_id: str, index: int = 0
) -> TargetSummary:
    """Copy, verify by re-reading and record one chunk, holding a ``storage-{site}`` slot."""
    from prefect.concurrency.sync import concurrency

    with concurrency([f"storage-{site}"], occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
        return replicate_chunk(settings, site, target, keys, run_id=run_id, actor=settings.actor)


@task(name="replication-finish", **task_retries(CATALOG))
def finish_task(
    settings: Settings, plan: ReplicationPlan, results: dict[str, list[TargetSummary]]
) -> list[TargetSummary]:
    """One summary per target, and its ``replication.run`` audit event."""
    return finish_replication(settings, plan, results, actor=settings.actor)


@task(name="replica-audit", **task_retries(STORE))
def audit_task(
    settings: Settings, site: str, targets: list[str] | None, sample_fraction: float, seed: int | None
) -> list[TargetSummary]:
    """Re-hash the recorded copies of ``site``'s masters at each target."""
    return audit_replicas(settings, site, targets=targets, sample_fraction=sample_fraction, seed=seed)
