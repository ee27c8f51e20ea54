"""Flow ``transfer_archive``: one person's archive from one county site to another (转移接续)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from dangan.retry import NO_RETRY
from dangan.transfer import driver
from dangan.transfer.problems import markdown_table
from flows.events import emit_domain_event
from flows.params import SiteCodeOrEmpty, settings_for
from tasks.transfer import request_task, step_task


@flow(name="transfer-archive", log_prints=False)
def transfer_archive(
    person_id: int | None = None,
    from_site: SiteCodeOrEmpty = "",
    to_site: SiteCodeOrEmpty = "",
    config: str | None = None,
    keep_source: bool | None = None,
    transfer_id: str | None = None,
) -> dict[str, Any]:
    """Request (or resume) the transfer and run its steps to ``done`` or ``failed``.

    Give ``transfer_id`` (from ``dangan.transfer.request_transfer``; the CLI does this) or ``person_id`` (the
    source catalog's person row id): never the resident ID, which Prefect would store among the run's parameters.

    Returns ``TransferOutcome.to_dict()`` (a failed transfer carries its problem list). ``keep_source=False``
    (default: setting ``transfer.keep_source``) releases the source's derivative and OCR objects after the commit
    (masters are always kept). ``config``: where the settings are (see :func:`flows.params.settings_for`).

    The domain's transfer driver (:func:`dangan.transfer.driver.drive_steps`) runs the steps, each a task that
    reads the recorded state and retries transient errors with the :data:`~dangan.retry.TRANSFER` policy, so
    re-running this flow after a crash continues where the catalog says.
    """
    cfg = settings_for(config)
    logger = get_run_logger()
    if transfer_id:
        tid = transfer_id
    elif person_id is not None:
        tid = request_task(cfg, person_id, from_site, to_site)
    else:
        raise ValueError("give transfer_id or person_id")
    state = driver.outcome(cfg, from_site, tid).state

    def step() -> str:  # one task run per step, named after the state it starts from
        nonlocal state
        state = step_task(cfg, from_site, tid, state=state, keep_source=keep_source)
        return state

    driver.drive_steps(step, NO_RETRY)  # the step task retries (TRANSFER); the loop must not retry again
    result = driver.outcome(cfg, from_site, tid)
    logger.info("transfer %s: %s", tid[:12], result.state)
    event: dict[str, Any] = {"to": to_site, "reason": result.reason_code}
    if result.state == "failed":  # why, per file, with what to do (masked: bag paths and scrubbed messages)
        event |= {"message": result.message, "problems": result.problems, "cleanup": result.cleanup}
    emit_domain_event(f"dangan.transfer.{result.state}", from_site, tid, event)
    receipt = result.receipt or {}
    key_id = receipt.get("signature", {}).get("key_id", "-")
    lines = [
        f"# Transfer {tid}",
        f"- {from_site} → {to_site}, person {receipt.get('person') or '(masked in catalog)'}",
        f"- state **{result.state}**" + (f", reason `{result.reason_code}`" if result.reason_code else ""),
        f"- package `{result.package['prefix']}` ({receipt.get('package', {}).get('files', '?')} files)",
        f"- receipt signed by {receipt.get('verifying_site', '-')}, key {key_id}",
    ]
    if result.state == "failed":
        lines += [f"- {result.message or ''}", f"- what to do: {result.hint or '-'}"]
        if result.cleanup:
            lines.append(
                f"- receiver cleaned up: {result.cleanup.get('deleted', 0)} objects deleted, "
                f"{result.cleanup.get('quarantined', 0)} kept as quarantined (retention)"
            )
        lines += ["", *markdown_table(result.problems)]
    create_markdown_artifact(
        "\n".join(lines),
        key=f"transfer-{tid}",
        description=f"Transfer {tid[:12]}",
    )
    return result.to_dict()
