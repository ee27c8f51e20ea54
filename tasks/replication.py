"""Prefect tasks for scheduled replication: plan, one task per chunk of masters and target, summary; audit.

Retries: transient errors only (an unreachable store, an unmounted removable medium); a damaged master is an
outcome in the summary, never retried.
"""

from __future__ import annotations

from typing import Any

from prefect import task

from dangan.replication import (
    ReplicaTarget,
    ReplicationPlan,
    TargetSummary,
    audit_replicas,
    finish_replication,
    plan_replication,
    replicate_chunk,
)
from tasks.common import SLOT_LEASE_S, TRANSIENT_RETRY, settings_from


@task(name="replication-plan", **TRANSIENT_RETRY)
def plan_task(settings: dict[str, Any], site: str, targets: list[str] | None) -> ReplicationPlan:
    """Per target, the masters of ``site`` without a verified copy there, in chunks."""
    return plan_replication(settings_from(settings), site, targets)


@task(name="replication-chunk", task_run_name="replication-{target.name}-{index}", **TRANSIENT_RETRY)
def chunk_task(
    settings: dict[str, Any], site: str, target: ReplicaTarget, keys: list[str], run_id: str, index: int = 0
) -> dict[str, Any]:
    """Copy, verify by re-reading and record one chunk, holding a ``storage-{site}`` slot."""
    from prefect.concurrency.sync import concurrency

    cfg = settings_from(settings)
    with concurrency([f"storage-{site}"], occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
        return replicate_chunk(cfg, site, target, keys, run_id=run_id, actor=cfg.actor).to_dict()


@task(name="replication-finish", **TRANSIENT_RETRY)
def finish_task(
    settings: dict[str, Any], plan: ReplicationPlan, results: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One summary per target, and its ``replication.run`` audit event."""
    cfg = settings_from(settings)
    parts = {name: [TargetSummary(**r) for r in rs] for name, rs in results.items()}
    return [s.to_dict() for s in finish_replication(cfg, plan, parts, actor=cfg.actor)]


@task(name="replica-audit", **TRANSIENT_RETRY)
def audit_task(
    settings: dict[str, Any], site: str, targets: list[str] | None, sample_fraction: float, seed: int | None
) -> list[dict[str, Any]]:
    """Re-hash the recorded copies of ``site``'s masters at each target."""
    cfg = settings_from(settings)
    return [s.to_dict() for s in audit_replicas(cfg, site, targets=targets, sample_fraction=sample_fraction, seed=seed)]
