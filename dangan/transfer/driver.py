"""Drive a transfer: request it, run its steps until done or failed, report the outcome.

There is one driver loop, :func:`drive_steps`: it runs steps until the transfer is ``done`` or ``failed``, each
step retried on transient errors by a :class:`~dangan.retry.RetryPolicy` (:data:`~dangan.retry.TRANSFER`).
``run_step`` is one step (transient errors propagate; permanent ones end the transfer as ``failed`` with their
stable code). ``run_transfer`` drives plain calls of it (the CLI without Prefect, kill tests, the benchmark);
the ``transfer-archive`` flow drives the same loop with each step a Prefect task that carries the same policy
as task retries. Every step reads the recorded state, so either driver resumes a crashed transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import Transfer
from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.errors import DanganError
from dangan.pii import mask_id, scrub
from dangan.retry import TRANSFER, RetryPolicy, call_with_retry
from dangan.storage import describe_store_url
from dangan.transfer import rows
from dangan.transfer.cleanup import CLEANED, clean_receiver
from dangan.transfer.errors import TransferNotFound, TransferPersonNotActive, TransferSameSite
from dangan.transfer.problems import problems_of
from dangan.transfer.protocol import STEPS, Ctx, Opener, default_opener
from dangan.transfer.snapshot import find_person


@dataclass(frozen=True)
class TransferOutcome:
    """How a transfer ended (or where it stands). A failed one carries why: ``problems`` lists each file and
    finding with what to do (see :mod:`dangan.transfer.problems`), ``cleanup`` what was removed from (or
    quarantined at) the receiver."""

    transfer_id: str
    state: str
    reason_code: str | None
    package: dict[str, Any]
    receipt: dict[str, Any] | None
    problems: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    hint: str | None = None
    cleanup: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape."""
        return {
            "transfer_id": self.transfer_id,
            "state": self.state,
            "reason_code": self.reason_code,
            "message": self.message,
            "hint": self.hint,
            "problems": self.problems,
            "cleanup": self.cleanup,
            "package": self.package,
            "receipt": self.receipt,
        }


def resident_id_of(settings: Settings, site: str, person_id: int) -> str:
    """The resident ID of catalog person ``person_id`` at ``site`` (flows and tasks carry the id, not the ID)."""
    from dangan.catalog.models import Person
    from dangan.transfer.errors import TransferPersonNotFound

    with session_scope(get_site(settings, site).catalog_url) as s:
        rid = s.scalar(select(Person.resident_id).where(Person.site_code == site, Person.id == person_id))
    if rid is None:
        raise TransferPersonNotFound(f"site {site} has no person #{person_id}", site=site, person_id=person_id)
    return str(rid)


def request_transfer(
    settings: Settings, resident_id: str, from_site: str, to_site: str, *, actor: str | None = None
) -> str:
    """Record (or find) the transfer of one person's archive; returns its id.

    The same request delivered twice, or two at once, yields one transfer. A request for an archive that
    already went to ``to_site`` returns that finished transfer.
    """
    if from_site == to_site:
        raise TransferSameSite(f"source and destination are both {from_site}", site=from_site)
    src = get_site(settings, from_site)
    get_site(settings, to_site)
    with session_scope(src.catalog_url) as s:
        person = find_person(s, from_site, resident_id)
        if person.status != "active":
            # Already moved to ``to_site``: that transfer is the answer, finished ("done") or still to finish
            # (committed at both sites, killed before its receipt): rerunning it resumes there.
            moved = s.scalars(
                select(Transfer)
                .where(
                    Transfer.person_resident_id == resident_id,
                    Transfer.from_site == from_site,
                    Transfer.to_site == to_site,
                    Transfer.state.in_(("committed", "done")),
                )
                .order_by(Transfer.created_at.desc())
            ).first()
            if person.transferred_to == to_site and moved is not None:
                return moved.id
            raise TransferPersonNotActive(
                f"person {mask_id(resident_id)} is {person.status} (to {person.transferred_to})", site=from_site
            )
        row, created = rows.open_or_create(
            s, resident_id=resident_id, from_site=from_site, to_site=to_site, state="requested"
        )
        if created:
            s.flush()
            record(
                s,
                actor=actor or settings.actor,
                action="transfer.requested",
                entity_type="transfer",
                entity_id=row.id,
                site_code=from_site,
                details={"person": mask_id(resident_id), "from": from_site, "to": to_site},
            )
        return row.id


def context(
    settings: Settings,
    from_site: str,
    transfer_id: str,
    *,
    opener: Opener | None,
    actor: str | None,
    keep_source: bool | None = None,
) -> Ctx:
    """Resolve sites and the row for one step."""
    src = get_site(settings, from_site)
    info = rows.load(src.catalog_url, transfer_id)
    if info is None:
        raise TransferNotFound(f"transfer {transfer_id} not found at site {from_site}", transfer_id=transfer_id)
    return Ctx(
        settings=settings,
        transfer_id=transfer_id,
        resident_id=info.resident_id,
        src_code=from_site,
        src=src,
        dst=get_site(settings, info.to_site),
        primary_url=src.catalog_url,
        actor=actor or settings.actor,
        opener=opener or default_opener,
        keep_source=settings.transfer.keep_source if keep_source is None else keep_source,
    )


def current_state(ctx: Ctx) -> str:
    info = rows.load(ctx.primary_url, ctx.transfer_id)
    assert info is not None
    return info.state


def run_ctx_step(ctx: Ctx) -> str:
    """Run the step the row's state calls for; returns the new state. Transient errors propagate."""
    state = current_state(ctx)
    if state == "failed":  # finish a cleanup a transient error interrupted (no-op once recorded)
        clean_receiver(ctx, _reason_code(ctx), ctx.actor)
    if state in rows.FINAL:
        return state
    try:
        STEPS[state](ctx)
    except DanganError as exc:
        if exc.transient:
            raise
        failed = False
        for url in [ctx.primary_url, *ctx.mirror_urls]:
            try:
                failed |= rows.fail(url, ctx.transfer_id, exc, actor=ctx.actor, site=_site_of(ctx, url))
            except TransferNotFound:
                continue
        if not failed:
            raise  # e.g. a permanent error after commit: the transfer stays committed, the operator must look
        # nothing of a failed transfer is registered at the receiver: what it copied there must not linger
        clean_receiver(ctx, exc.code, ctx.actor)
    return current_state(ctx)


def _reason_code(ctx: Ctx) -> str:
    info = rows.load(ctx.primary_url, ctx.transfer_id)
    return (info.reason_code if info else None) or "TRANSFER_FAILED"


def _site_of(ctx: Ctx, url: str) -> str:
    return ctx.src_code if ctx.src is not None and url == ctx.src.catalog_url else ctx.dst.code


def run_step(
    settings: Settings,
    from_site: str,
    transfer_id: str,
    *,
    opener: Opener | None = None,
    actor: str | None = None,
    keep_source: bool | None = None,
) -> str:
    """One step of a transfer recorded at ``from_site`` (what a Prefect task runs)."""
    return run_ctx_step(context(settings, from_site, transfer_id, opener=opener, actor=actor, keep_source=keep_source))


def drive_steps(step: Callable[[], str], retry: RetryPolicy) -> str:
    """The transfer driver: call ``step`` (one step; returns the new state) until the transfer is done or
    failed, each call retried on transient errors by ``retry``. A step that makes no progress ends it with an
    error after twice the protocol's length (a step may be redone once after a crash)."""
    state = ""
    for _ in range(2 * len(rows.ORDER) + 2):
        state = call_with_retry(step, retry)
        if state in rows.FINAL:
            return state
    raise RuntimeError(f"transfer made no progress (state {state})")


def drive(ctx_factory: Callable[[], Ctx], retry: RetryPolicy) -> str:
    """Run steps of the transfer ``ctx_factory`` resolves (fresh for each step) until it is done or failed."""
    return drive_steps(lambda: run_ctx_step(ctx_factory()), retry)


def run_transfer(
    settings: Settings,
    resident_id: str,
    from_site: str,
    to_site: str,
    *,
    opener: Opener | None = None,
    actor: str | None = None,
    retry: RetryPolicy | None = None,
    keep_source: bool | None = None,
) -> TransferOutcome:
    """Request (or resume) and run a transfer to its end; permanent failures end as state ``failed``.

    ``keep_source=False`` releases the source's derivative and OCR objects once committed (masters are kept:
    stores refuse to delete them); ``None`` follows the ``transfer.keep_source`` setting."""
    policy = retry or TRANSFER
    tid = call_with_retry(lambda: request_transfer(settings, resident_id, from_site, to_site, actor=actor), policy)
    drive(lambda: context(settings, from_site, tid, opener=opener, actor=actor, keep_source=keep_source), policy)
    return outcome(settings, from_site, tid)


def outcome(settings: Settings, from_site: str, transfer_id: str) -> TransferOutcome:
    """Where a transfer stands: state, reason code, package location, receipt."""
    src = get_site(settings, from_site)
    info = rows.load(src.catalog_url, transfer_id)
    if info is None:
        raise TransferNotFound(f"transfer {transfer_id} not found at site {from_site}", transfer_id=transfer_id)
    dst = get_site(settings, info.to_site)
    package = {
        "store": describe_store_url(dst.store_url),
        "prefix": f"sites/{dst.code}/packages/{transfer_id}/",
        "source_prefix": f"sites/{from_site}/packages/{transfer_id}/",
    }
    return with_failure(
        TransferOutcome(transfer_id, info.state, info.reason_code, package, info.receipt or None),
        [src.catalog_url, dst.catalog_url],
    )


def with_failure(out: TransferOutcome, catalog_urls: list[str]) -> TransferOutcome:
    """``out`` with why it failed (problems, message, hint) and the receiver cleanup, from the audit trail."""
    if out.state != "failed":
        return out
    error: dict[str, Any] = {}
    cleanup: dict[str, Any] | None = None
    for url in dict.fromkeys(catalog_urls):  # source first; the receiver's own catalog when it has one
        error = error or rows.event_details(url, out.transfer_id, "transfer.failed").get("error") or {}
        cleaned = rows.event_details(url, out.transfer_id, CLEANED)
        cleanup = cleanup or ({k: cleaned[k] for k in ("deleted", "quarantined") if k in cleaned} or None)
    if not error:  # failed before this version recorded errors: the code is all there is
        error = {"code": out.reason_code, "message": f"transfer failed with {out.reason_code}"}
    return replace(
        out,
        problems=problems_of(error),
        message=scrub(str(error.get("message") or "")) or None,
        hint=error.get("hint"),
        cleanup=cleanup,
    )
