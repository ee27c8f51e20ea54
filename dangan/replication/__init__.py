"""Scheduled replication of masters to replica targets (定期检测和拷贝) and the replica audit.

See :mod:`dangan.replication.replicate`; targets come from ``[replication]`` (``dangan.config``).
"""

from dangan.replication.replicate import (
    ReplicationPlan,
    TargetSummary,
    audit_replicas,
    finish_replication,
    plan_replication,
    replicate_chunk,
    replicate_site,
)
from dangan.replication.report import summary_rows
from dangan.replication.targets import ReplicaTarget, open_target, targets_for

__all__ = [
    "ReplicaTarget",
    "ReplicationPlan",
    "TargetSummary",
    "audit_replicas",
    "finish_replication",
    "open_target",
    "plan_replication",
    "replicate_chunk",
    "replicate_site",
    "summary_rows",
    "targets_for",
]
