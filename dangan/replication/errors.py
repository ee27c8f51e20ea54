"""Replication errors (stable codes; hints for county archive staff, 中文 where useful)."""

from __future__ import annotations

from dangan.errors import ConfigError, TransientError


class ReplicaTargetInvalid(ConfigError):
    """A ``[replication]`` target that cannot hold a second copy (unknown name, the source's own store)."""

    code = "REPLICATION_TARGET_INVALID"
    default_hint = "Fix [replication.targets.NAME] in dangan.toml: url= another bucket or folder, or site= a site."


class ReplicaTargetUnavailable(TransientError):
    """A removable medium that is not mounted (its folder is absent): nothing is written to the local disk."""

    code = "REPLICATION_TARGET_UNAVAILABLE"
    default_hint = "Mount the removable medium at the configured folder, then run again. 请先挂载移动存储介质后重试。"


#: Per-object outcomes (audit details, reports); not exceptions: one bad master does not stop a run.
SOURCE_MISSING = "REPLICATION_SOURCE_MISSING"
SOURCE_DAMAGED = "REPLICATION_SOURCE_DAMAGED"
COPY_UNVERIFIED = "REPLICATION_COPY_UNVERIFIED"
REPLICA_MISSING = "REPLICA_MISSING"
REPLICA_DAMAGED = "REPLICA_DAMAGED"
