"""Periodic fixity audit: re-hash stored objects against the catalog, report, record, repair from a replica.

``audit_site`` runs a whole audit in-process; ``plan_run`` / ``audit_chunk`` / ``audit_untracked`` /
``finish_run`` are the same steps for a flow that runs one task per chunk.
"""

from dangan.fixity.audit import (
    DEFAULT_CHUNK,
    RunPlan,
    audit_chunk,
    audit_site,
    audit_untracked,
    finish_run,
    object_entity_id,
    plan_run,
)
from dangan.fixity.check import check_object
from dangan.fixity.model import FAILURES, ChunkResult, FixityReport, ObjectCheck, Status, Target
from dangan.fixity.plan import catalogued_keys, is_sampled
from dangan.fixity.report import finding_rows, fixity_markdown
from dangan.fixity.run import audit_registered_site, repair_finder, site_stores

__all__ = [
    "DEFAULT_CHUNK",
    "FAILURES",
    "ChunkResult",
    "FixityReport",
    "ObjectCheck",
    "RunPlan",
    "Status",
    "Target",
    "audit_chunk",
    "audit_registered_site",
    "audit_site",
    "audit_untracked",
    "catalogued_keys",
    "check_object",
    "finding_rows",
    "finish_run",
    "fixity_markdown",
    "is_sampled",
    "object_entity_id",
    "plan_run",
    "repair_finder",
    "site_stores",
]
