"""Flow ``fixity_audit``: re-hash a site's stored objects against the catalog, repair by content.

Chunks of keys run as concurrent tasks; a progress artifact follows them. At the end: a markdown summary, a
table of findings, and one Prefect event per finding (``dangan.fixity.failed`` for objects still damaged,
``dangan.fixity.repaired``, ``dangan.fixity.untracked``) so automations can react.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from dangan.fixity import FixityReport, Status, finding_rows, fixity_markdown
from flows.events import emit_domain_event
from flows.params import SiteCode, settings_for
from flows.runners import default_task_runner
from tasks.fixity import chunk_task, finish_task, plan_task, untracked_task


@flow(name="fixity-audit", log_prints=False, task_runner=default_task_runner())
def fixity_audit(
    site: SiteCode,
    sample_fraction: float = 1.0,
    repair_from: SiteCode | None = None,
    config: str | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    repair: bool = False,
) -> FixityReport:
    """Audit ``site`` (all objects, or a ``sample_fraction`` chosen by ``seed``); returns the report.

    ``repair`` restores missing and changed objects by content from a verified copy in any store the
    configuration names (replica targets, then other sites); ``repair_from`` (implies ``repair``) names a
    site whose store is searched first. ``config``: where the settings are (see :func:`flows.params.settings_for`).
    """
    cfg = settings_for(config)
    logger = get_run_logger()
    plan = plan_task(cfg, site, sample_fraction, seed, chunk_size)
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
        chunk_task.submit(cfg, site, keys, plan.run_id, repair_from, index=i, repair=repair)
        for i, keys in enumerate(plan.chunks)
    ]
    steps = len(futures) + 1  # + the untracked listing
    results = []
    for done, future in enumerate(futures, start=1):  # submission order; chunks run concurrently
        results.append(future.result())
        update_progress_artifact(progress, 100.0 * done / steps)
    untracked = untracked_task(cfg, site, plan.run_id)
    report = finish_task(cfg, plan, results, untracked)
    update_progress_artifact(progress, 100.0)
    _emit(site, report)
    create_markdown_artifact(
        fixity_markdown(report), key=f"fixity-summary-{site}", description=f"Fixity audit {plan.run_id[:12]}"
    )
    create_table_artifact(
        finding_rows(report), key=f"fixity-findings-{site}", description=f"Fixity findings {plan.run_id[:12]}"
    )
    counts = report.counts()
    logger.info("fixity %s: %s", plan.run_id[:12], ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return report


def _emit(site: str, report: FixityReport) -> None:
    for f in report.findings:
        if f.status in (Status.UNTRACKED, Status.UNVERIFIABLE):  # reported, not failures
            event = f"dangan.fixity.{f.status}"
        elif f.repaired:
            event = "dangan.fixity.repaired"
        else:
            event = "dangan.fixity.failed"
        payload = {"status": str(f.status), "kind": f.kind, "expected": f.expected, "recorded": f.recorded}
        payload |= {"found": f.found, "repair_error": f.repair_error, "run_id": report.run_id}
        emit_domain_event(event, site, f.key, payload)
