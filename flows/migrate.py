"""Flow ``regional_migration``: move every matching archive from one site to another, in chunks.

Resumable: who is done is read from the catalogs (transfer rows, person status), never from a previous run.
Rate limits: each person transfer holds one slot of the global concurrency limits ``storage-{from}`` and
``storage-{to}``. Prefect 3.9's ``concurrency(..., strict=False)`` only logs a warning and does *not* limit
when a named limit is missing, so the flow creates missing limits (with ``max_concurrent`` slots; existing
ones are left as the operator set them), and independently never runs more than ``max_concurrent`` chunks
at once, so the bound holds even where the API cannot create limits.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from dangan.transfer.reconcile import parse_selector, reconcile, select_persons
from flows.params import MigrationChoice, SiteCode, settings_for
from flows.runners import default_task_runner
from tasks.transfer import PersonMoved, migrate_chunk_task


def _ephemeral_api() -> bool:
    """True when this process talks to Prefect's ephemeral API (no ``PREFECT_API_URL``): the embedded default."""
    from prefect.settings import get_current_settings

    return not get_current_settings().api.url


def ensure_limits(names: list[str], slots: int) -> dict[str, str]:
    """Create missing global concurrency limits; returns ``{name: "exists"|"created"|"unavailable"}``.

    On the ephemeral API nothing else can hold a slot when a flow starts, yet the database keeps slots that a
    killed run held: Prefect 3.9 keeps slot leases in the server's memory, which died with that run, so no
    lease ever expires them. Those slots are released here (logged), or a rerun after a crash would wait forever.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    status: dict[str, str] = {}
    try:
        with get_client(sync_client=True) as client:
            for name in names:
                try:
                    limit = client.read_global_concurrency_limit_by_name(name)
                    status[name] = "exists"
                    if limit.active_slots and _ephemeral_api():
                        get_run_logger().warning("releasing %d stale slot(s) of %s", limit.active_slots, name)
                        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))
                except ObjectNotFound:
                    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
                    status[name] = "created"
    except Exception as exc:  # no API or no permission: the local bound below still applies
        get_run_logger().warning("cannot manage concurrency limits (%s); bounding locally only", type(exc).__name__)
        status = {name: status.get(name, "unavailable") for name in names}
    return status


@flow(name="regional-migration", log_prints=False, task_runner=default_task_runner())
def regional_migration(
    from_site: SiteCode,
    to_site: SiteCode,
    selector: MigrationChoice = "all",
    max_concurrent: int = 4,
    chunk_size: int = 20,
    window_minutes: float | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """Migrate the selected archives; returns the reconciliation report (every person accounted for).

    ``window_minutes`` bounds a night window: no new wave of chunks starts after it; the persons left are
    reported ``pending`` and the next run takes them up. ``selector``: ``"all"``, ``{"person_ids": [...]}``
    (source catalog ids, never resident IDs) or ``{"category": NAME}``. ``config``: where the settings are (see
    :func:`flows.params.settings_for`)."""
    cfg = settings_for(config)
    logger = get_run_logger()
    criteria = parse_selector(selector if isinstance(selector, str) else selector.criteria())  # fail fast
    persons = select_persons(cfg, from_site, to_site, criteria)  # catalog ids: task params stay free of PII
    chunks = [persons[i : i + max(1, chunk_size)] for i in range(0, len(persons), max(1, chunk_size))]
    limits = ensure_limits([f"storage-{from_site}", f"storage-{to_site}"], max(1, max_concurrent))
    logger.info(
        "migration %s → %s: %d persons in %d chunks; limits %s", from_site, to_site, len(persons), len(chunks), limits
    )
    progress: Any = create_progress_artifact(0.0, key=f"migration-{from_site}-{to_site}", description="archives moved")
    outcomes: list[PersonMoved] = []
    wave = max(1, max_concurrent)
    ends = time.monotonic() + window_minutes * 60 if window_minutes else None
    for start in range(0, len(chunks), wave):
        if ends is not None and start and time.monotonic() >= ends:  # the first wave always runs
            logger.warning(
                "migration window of %g min is over: %d chunks left for the next run",
                window_minutes,
                len(chunks) - start,
            )
            break
        futures = [
            migrate_chunk_task.submit(cfg, from_site, to_site, chunk, index=start + i)
            for i, chunk in enumerate(chunks[start : start + wave])
        ]
        for future in futures:
            outcomes.extend(future.result())
        update_progress_artifact(progress, 100.0 * min(len(chunks), start + wave) / max(len(chunks), 1))
    update_progress_artifact(progress, 100.0)
    report = reconcile(cfg, from_site, to_site, persons)
    report["limits"] = limits
    create_markdown_artifact(
        _markdown(report), key=f"migration-{from_site}-{to_site}-report", description="Migration reconciliation"
    )
    return report


def _markdown(report: dict[str, Any]) -> str:
    src, dst = report["source"], report["destination"]
    lines = [
        f"# Migration {report['from_site']} → {report['to_site']}",
        f"{report['accounted']} of {report['selected']} persons accounted for: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["by_status"].items())),
        f"Balanced: **{report['balanced']}**",
        "",
        "| | persons | documents | pages | masters | master bytes | derivative bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, t in (("source", src), ("destination", dst)):
        lines.append(
            f"| {name} | {t['persons']} | {t['documents']} | {t['pages']} | {t['masters']} | "
            f"{t['master_bytes']} | {t['derivative_bytes']} |"
        )
    problems = [i for i in report["items"] if i["status"] != "done"]
    if problems:
        lines += ["", "| person | status | state | reason |", "|---|---|---|---|"]
        lines += [f"| {i['person']} | {i['status']} | {i['state']} | {i['reason_code'] or ''} |" for i in problems]
    return "\n".join(lines)
