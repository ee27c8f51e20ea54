"""Flow ``review-document``: pause for a reviewer's corrections in the Prefect UI, then validate again.

The pause shows a form (``ReviewInput``) whose description lists the flagged fields, their current values
(resident IDs and names masked: the page image shows them) and a link to the page image with each field's
box. The answer goes through the same ``apply_corrections`` as ``dangan review``. Run from a deployment (the
``digitize`` flow starts one per flagged document), the run suspends rather than pauses, so no worker process
waits for days.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from pydantic import Field, create_model

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.extract.errors import CorrectionRejected
from dangan.extract.review import apply_corrections, request_rescan, review_items, shown
from dangan.pii import Masker
from dangan.quality.rules import data_docs_dir, rules_from
from dangan.reports import document_maskers
from dangan.web.links import data_docs_link, object_url, review_url
from flows.params import SiteCode, settings_for


class ReviewDecision(StrEnum):
    """What the reviewer decides for the document."""

    CORRECT = "correct"  # apply the corrections typed below, then validate again
    ACCEPT = "accept"  # apply them, and mark validated even if reasons remain (say why)
    RESCAN = "rescan"  # reject the pages: scan the paper again (say why)


class ReviewInput(RunInput):
    """The reviewer's answer. The form of a document adds one text box per flagged field (:func:`review_form`);
    an empty box keeps the value."""

    reviewer: str = Field(description="your name or staff id (recorded in the audit trail) / 审核人")
    decision: ReviewDecision = Field(
        default=ReviewDecision.CORRECT,
        description="correct: apply my corrections · accept: validate as it is (a genuine 15-digit ID…) · "
        "rescan: the page is unreadable or wrong, scan it again / 处理方式",
    )
    reason: str = Field(default="", description="why you accept or reject (needed for accept and rescan) / 理由")


def _box_name(field: str) -> str:
    """A form field name for a catalog field (``contributions.3.total`` → ``contributions__3__total``)."""
    return field.replace(".", "__")


def review_form(view: dict[str, Any]) -> type[ReviewInput]:
    """The typed form of one document: :class:`ReviewInput` plus an optional text box per flagged field, titled
    with the field's name and its current value masked (the reviewer sees the value itself on the page image)."""
    boxes: dict[str, Any] = {}
    for item in view["fields"]:
        if not item["reasons"]:
            continue
        now = shown(item["name"], item["value"])
        boxes[_box_name(item["name"])] = (
            str,
            Field(
                default="",
                title=f"{item['name']} (now: {now if now is not None else 'missing'})",
                description=f"{', '.join(item['reasons'])}; leave empty to keep",
            ),
        )
    return create_model(f"ReviewDocument{view['document_id']}", __base__=ReviewInput, **boxes)


def corrections_of(answer: ReviewInput) -> dict[str, str]:
    """The non-empty corrections typed into the form, by catalog field name."""
    base = set(ReviewInput.model_fields)
    return {
        name.replace("__", "."): value.strip()
        for name, value in answer.model_dump().items()
        if name not in base and isinstance(value, str) and value.strip()
    }


def review_markdown(view: dict[str, Any], masker: Masker | None = None) -> str:
    """The review form's description: reasons, flagged fields with values, image links with boxes.

    The source file name is masked with ``masker`` (the document's person, see ``dangan.reports``) and the
    name and ID read from the document itself: scanners name files after people.
    """
    lines = [
        f"### Review document {view['document_id']} · {view['form_type']}",
        f"`{source_file_shown(view, masker)}` · status **{view['status']}**",
        "",
        "| field | value | confidence | reasons | page image (box) |",
        "|---|---|---|---|---|",
    ]
    for item in view["fields"]:
        if not item["reasons"]:
            continue
        conf = "" if item["confidence"] is None else f"{item['confidence']:.3f}"
        image = f"[page]({item['image']}) {item['box']}" if item["image"] else f"{item['box'] or ''}"
        value = shown(item["name"], item["value"])
        lines.append(f"| {item['name']} | {value} | {conf} | {', '.join(item['reasons'])} | {image} |")
    lines += ["", *(f"- **{r['code']}** {r['message']} {r.get('details') or ''}" for r in view["reasons"])]
    if view.get("data_docs"):
        lines.append(f"\nData Docs: {view['data_docs']}")
    return "\n".join(lines)


def source_file_shown(view: dict[str, Any], masker: Masker | None = None) -> str:
    """A review view's ``source_file`` masked: IDs, and names/IDs known for the document or read from it."""
    values = {f["name"]: f["value"] for f in view.get("fields", []) if f["name"] in ("name", "id_number")}
    mask = (masker or Masker()).with_values(ids=[values.get("id_number")], names=[values.get("name")])
    return mask(view["source_file"])


REVIEW_DEPLOYMENT = "review-document/review"
LINK_TTL_S = 14 * 24 * 3600  # a review may wait days


def _deployed() -> bool:
    ctx = FlowRunContext.get()
    return bool(ctx and ctx.flow_run and ctx.flow_run.deployment_id)


def start_reviews(site: str, document_ids: list[int], config: str | None, batch_id: str) -> dict[str, Any]:
    """One ``review-document`` run per flagged document on the ``review`` deployment, started without waiting
    (each with the same ``config`` reference).

    Idempotent per batch and document (a rerun of the same digitization starts no second review). Without the
    deployment (embedded default, ephemeral API) nothing starts and the reason says to use ``dangan review``.
    """
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    if not document_ids:
        return {"started": 0, "reason": None}
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(REVIEW_DEPLOYMENT)
    except ObjectNotFound:
        return {"started": 0, "reason": f"no `review` deployment: review with `dangan review --site {site}`"}
    for doc in document_ids:
        run_deployment(
            REVIEW_DEPLOYMENT,
            parameters={"site": site, "document_id": doc, "config": config},
            timeout=0,
            as_subflow=False,
            idempotency_key=f"review-{site}-{batch_id}-{doc}",
            flow_run_name=f"review-{site}-{doc}",
        )
    return {"started": len(document_ids), "reason": None}


@flow(name="review-document", log_prints=False)
def review_document(
    site: SiteCode,
    document_id: int,
    config: str | None = None,
    timeout: int = 7 * 24 * 3600,
    poll_interval: int = 10,
) -> dict[str, Any]:
    """Pause until a reviewer answers, apply their corrections, validate again; returns the outcome.

    ``config``: where the settings are (see :func:`flows.params.settings_for`)."""
    cfg = settings_for(config)
    ref = get_site(cfg, site)
    # links go to the project's own authenticated route: never a server path or a pre-signed URL in Prefect
    view = review_items(
        ref.catalog_url, document_id, image_link=lambda key: object_url(cfg, site, key, ttl_s=min(timeout, LINK_TTL_S))
    )
    view["data_docs"] = data_docs_link(cfg, site, view.get("data_docs"))
    if view["status"] != "needs_review":
        return {
            "document_id": document_id,
            "status": view["status"],
            "changed": [],
            "reasons": [],
            "accepted": False,
        }
    description = review_markdown(view, document_maskers(ref.catalog_url, [document_id])[document_id])
    description += (
        f"\n\n[Open the pages, the OCR text and the values / 查看原件与识别结果]"
        f"({review_url(cfg, site, document_id, ttl_s=min(timeout, LINK_TTL_S))}) (needs a viewer token: "
        "`dangan web token --actor NAME`; values are shown in clear only with pii.reveal)"
    )
    artifact_key = f"review-{site}-{document_id}"
    create_markdown_artifact(description, key=artifact_key, description="fields to review")
    form = review_form(view).with_initial_data(description=description)
    key = f"review-{document_id}"
    if _deployed():
        # A review can wait for days: suspending ends the worker's process (its slot is free for other runs);
        # on resume the run starts again from the top and the keyed suspend returns the reviewer's answer.
        answer = suspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
    else:
        answer = pause_flow_run(wait_for_input=form, timeout=timeout, poll_interval=poll_interval, key=key)
    outcome = apply_answer(cfg, site, document_id, answer)
    # the outcome in the run's log and the artifact: field names, decision and status, never values
    get_run_logger().info(
        "document %s reviewed by %s: %s; corrected %s; now %s",
        document_id,
        answer.reviewer,
        answer.decision.value,
        ", ".join(outcome["changed"]) or "nothing",
        outcome["status"],
    )
    create_markdown_artifact(
        description + "\n\n" + outcome_markdown(answer, outcome), key=artifact_key, description="review outcome"
    )
    return outcome


def apply_answer(cfg: Settings, site: str, document_id: int, answer: ReviewInput) -> dict[str, Any]:
    """Carry out the reviewer's decision through the same domain functions as ``dangan review``."""
    ref = get_site(cfg, site)
    if answer.decision == ReviewDecision.RESCAN:
        return request_rescan(ref.catalog_url, document_id, answer.reviewer, answer.reason)
    if answer.decision == ReviewDecision.ACCEPT and not answer.reason.strip():
        raise CorrectionRejected("accepting a flagged document needs a reason", document_id=document_id)
    return apply_corrections(
        ref.catalog_url,
        document_id,
        corrections_of(answer),
        answer.reviewer,
        accept=answer.decision == ReviewDecision.ACCEPT,
        rules=rules_from(cfg),
        docs_dir=data_docs_dir(cfg, site),
    )


def outcome_markdown(answer: ReviewInput, outcome: dict[str, Any]) -> str:
    """The review's outcome as a small table (appended to the review artifact)."""
    reasons = ", ".join(map(str, outcome.get("reasons") or [])) or "—"  # reason codes
    return "\n".join(
        [
            "### Outcome / 审核结果",
            "| reviewer | decision | corrected fields | status | remaining reasons |",
            "|---|---|---|---|---|",
            f"| {answer.reviewer} | {answer.decision.value} | {', '.join(outcome['changed']) or '—'} | "
            f"{outcome['status']} | {reasons} |",
        ]
    )
