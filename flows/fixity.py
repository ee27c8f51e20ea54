"""Flow ``fixity_audit``: re-hash a site's stored objects against the catalog, repair by content.

Chunks of keys run as concurrent tasks; a progress artifact follows them. At the end: a markdown summary, a
table of findings, and one Prefect event per finding (``dangan.fixity.failed`` for objects still damaged,
``dangan.fixity.repaired``, ``dangan.fixity.untracked``) so automations can react.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from dangan.config import load_settings
from dangan.fixity import finding_rows, fixity_markdown
from flows.events import emit_domain_event
from flows.params import SiteCode
from flows.runners import default_task_runner
from tasks.common import settings_payload
from tasks.fixity import chunk_task, finish_task, plan_task, untracked_task


@flow(name="fixity-audit", log_prints=False, task_runner=default_task_runner())
def fixity_audit(
    site: SiteCode,
    sample_fraction: float = 1.0,
    repair_from: str | None = None,
    settings: dict[str, Any] | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    repair: bool = False,
) -> dict[str, Any]:
    """Audit ``site`` (all objects, or a ``sample_fraction`` chosen by ``seed``); returns the report dict.

    ``repair`` restores missing and changed objects by content from a verified copy in any store the
    configuration names (replica targets, then other sites); ``repair_from`` (implies ``repair``) names a
    site whose store is searched first.
    """
    cfg = load_settings(**(settings or {}))
    payload = settings_payload(cfg)
    logger = get_run_logger()
    plan = plan_task(payload, site, sample_fraction, seed, chunk_size)
    logger.info(
        "fixity %s: %d of %d objects in %d chunks",
        plan.run_id[:12],
        sum(len(c) for c in plan.chunks),
        plan.catalogued,
        len(plan.chunks),
    )
    # Called from a sync flow, Prefect's sync/async wrapper returns the id itself, not a coroutine.
    progress = cast(UUID, create_progress_artifact(0.0, key=f"fixity-progress-{site}", description="chunks re-hashed"))
    futures = [
        chunk_task.submit(payload, site, keys, plan.run_id, repair_from, index=i, repair=repair)
        for i, keys in enumerate(plan.chunks)
    ]
    steps = len(futures) + 1  # + the untracked listing
    results = []
    for done, future in enumerate(futures, start=1):  # submission order; chunks run concurrently
        results.append(future.result())
        update_progress_artifact(progress, 100.0 * done / steps)
    untracked = untracked_task(payload, site, plan.run_id)
    report = finish_task(payload, plan, results, untracked)
    update_progress_artifact(progress, 100.0)
    _emit(site, report)
    create_markdown_artifact(
        fixity_markdown(report), key=f"fixity-summary-{site}", description=f"Fixity audit {plan.run_id[:12]}"
    )
    create_table_artifact(
        finding_rows(report), key=f"fixity-findings-{site}", description=f"Fixity findings {plan.run_id[:12]}"
    )
    counts = report["counts"]
    logger.info("fixity %s: %s", plan.run_id[:12], ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return report


def _emit(site: str, report: dict[str, Any]) -> None:
    for f in report["findings"]:
        if f["status"] in ("untracked", "unverifiable"):  # reported, not failures
            event = f"dangan.fixity.{f['status']}"
        elif f["repaired"]:
            event = "dangan.fixity.repaired"
        else:
            event = "dangan.fixity.failed"
        payload = {k: f[k] for k in ("status", "kind", "expected", "recorded", "found", "repair_error")}
        emit_domain_event(event, site, f["key"], {**payload, "run_id": report["run_id"]})
