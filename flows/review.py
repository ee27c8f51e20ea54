"""Flow ``review-document``: pause for a reviewer's corrections in the Prefect UI, then validate again.

The pause shows a form (``ReviewInput``) whose description lists the flagged fields, their current values
(resident IDs and names masked: the page image shows them) and a link to the page image with each field's
box. The answer goes through the same ``apply_corrections`` as ``dangan review``. Run from a deployment (the
``digitize`` flow starts one per flagged document), the run suspends rather than pauses, so no worker process
waits for days.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from pydantic import Field

from dangan.catalog.sites import get_site
from dangan.config import load_settings
from dangan.extract.review import apply_corrections, review_items, shown
from dangan.pii import Masker
from dangan.quality.rules import data_docs_dir, rules_from
from dangan.reports import document_maskers
from flows.params import SiteCode


class ReviewInput(RunInput):
    """The reviewer's answer: who they are, field → corrected value (empty keeps it), accept the rest."""

    reviewer: str = Field(description="your name or staff id (recorded in the audit trail)")
    corrections: dict[str, str] = Field(
        default_factory=dict,
        description="field → corrected value; contribution cells as contributions.N.total",
    )
    accept: bool = Field(
        default=False, description="mark validated even if reasons remain (e.g. a genuine 15-digit ID)"
    )


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


def _deployed() -> bool:
    ctx = FlowRunContext.get()
    return bool(ctx and ctx.flow_run and ctx.flow_run.deployment_id)


def start_reviews(site: str, document_ids: list[int], payload: dict[str, Any], batch_id: str) -> dict[str, Any]:
    """One ``review-document`` run per flagged document on the ``review`` deployment, started without waiting.

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
            parameters={"site": site, "document_id": doc, "settings": payload},
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
    settings: dict[str, Any] | None = None,
    timeout: int = 7 * 24 * 3600,
    poll_interval: int = 10,
) -> dict[str, Any]:
    """Pause until a reviewer answers, apply their corrections, validate again; returns the outcome."""
    from dangan.storage.factory import open_store

    cfg = load_settings(**(settings or {}))
    ref = get_site(cfg, site)
    view = review_items(ref.catalog_url, document_id, store=open_store(ref.store_url))
    if view["status"] != "needs_review":
        return {
            "document_id": document_id,
            "status": view["status"],
            "changed": [],
            "reasons": [],
            "accepted": False,
        }
    description = review_markdown(view, document_maskers(ref.catalog_url, [document_id])[document_id])
    create_markdown_artifact(description, key=f"review-{site}-{document_id}", description="fields to review")
    form = ReviewInput.with_initial_data(description=description, corrections={}, accept=False)
    key = f"review-{document_id}"
    if _deployed():
        # A review can wait for days: suspending ends the worker's process (its slot is free for other runs);
        # on resume the run starts again from the top and the keyed suspend returns the reviewer's answer.
        answer = suspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
    else:
        answer = pause_flow_run(wait_for_input=form, timeout=timeout, poll_interval=poll_interval, key=key)
    corrections = {name: value for name, value in answer.corrections.items() if value and value.strip()}
    get_run_logger().info("document %s: %d corrections by %s", document_id, len(corrections), answer.reviewer)
    return apply_corrections(
        ref.catalog_url,
        document_id,
        corrections,
        answer.reviewer,
        accept=answer.accept,
        rules=rules_from(cfg),
        docs_dir=data_docs_dir(cfg, site),
    )
