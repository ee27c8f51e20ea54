"""The Prefect review flow pauses with a form, and the reviewer's answer is applied and validated again."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.extract.store import extract_documents
from dangan.quality.store import validate_documents
from flows.review import ReviewInput, review_markdown
from tests.extract.catalog import seed
from tests.extract.test_store import SITE, _docs


def _paused_run(client: Any, deadline: float) -> Any:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    flt = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    while time.monotonic() < deadline:
        runs = client.read_flow_runs(flow_run_filter=flt)
        if runs:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError("the review flow never paused")


def _flagged_document(truth_batch: Any, tmp_path: Path) -> tuple[Any, Any, int, str, str]:
    """One document whose resident ID fails its check digit, extracted and validated: (settings, site ref,
    document id, the wrong ID as read, the right ID)."""
    _, truths = truth_batch
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "杭州市西湖区")
    docs, bad, wrong = _docs(truths)
    ids = seed(ref.catalog_url, SITE, {bad: docs[bad]})
    extract_documents(ref.catalog_url, SITE, ids.values())
    validate_documents(ref.catalog_url, SITE, ids.values())
    return settings, ref, ids[bad], wrong, truths[bad]["fields"]["id_number"]


def _start_review(settings: Any, document_id: int, outcome: dict[str, Any]) -> threading.Thread:
    """The review flow in a thread (it pauses for the form); its result lands in ``outcome``."""
    from flows.params import config_ref
    from flows.review import review_document

    worker = threading.Thread(
        target=lambda: outcome.update(
            review_document(SITE, document_id, config=config_ref(settings), timeout=300, poll_interval=1)
        )
    )
    worker.start()
    return worker


def test_review_flow_pause_and_resume(truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, LogFilter
    from prefect.flow_runs import resume_flow_run
    from prefect.testing.utilities import prefect_test_harness

    settings, ref, doc_id, wrong, right = _flagged_document(truth_batch, tmp_path)
    outcome: dict[str, Any] = {}
    with prefect_test_harness(server_startup_timeout=120):
        worker = _start_review(settings, doc_id, outcome)
        with get_client(sync_client=True) as client:
            run = _paused_run(client, time.monotonic() + 120)
            keyset = run.state.state_details.run_input_keyset
            assert keyset is not None  # the pause waits for input (a form), not just a resume click
            description = client.read_flow_run_input(run.id, keyset["description"])
            schema = json.loads(client.read_flow_run_input(run.id, keyset["schema"]))
        assert "ID_CHECK_DIGIT" in description and wrong not in description and right not in description
        assert f"/review/{SITE}/{doc_id}?t=" in description and "file://" not in description
        # typed boxes, one per flagged field, titled with the masked value: no JSON to write
        assert "id_number" in schema["properties"] and schema["properties"]["id_number"]["type"] == "string"
        assert "ReviewDecision" in json.dumps(schema["properties"]["decision"])  # a choice, not free text
        assert wrong not in json.dumps(schema, ensure_ascii=False)
        resume_flow_run(run.id, run_input={"reviewer": "reviewer3", "id_number": right})
        worker.join(timeout=120)
        # run logs reach the API in batches: poll
        with get_client(sync_client=True) as client:
            deadline = time.monotonic() + 30
            while True:
                logs = [log.message for log in client.read_logs(LogFilter(flow_run_id={"any_": [run.id]}))]
                if any("reviewed by" in m for m in logs) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            key = ArtifactFilter(key={"any_": [f"review-{SITE}-{doc_id}"]})
            artifacts = client.read_artifacts(artifact_filter=key)
    outcome_logs = [m for m in logs if "reviewed by reviewer3" in m]
    assert outcome_logs and "correct; corrected id_number; now validated" in outcome_logs[0]
    assert right not in " ".join(logs)
    latest = max(artifacts, key=lambda a: a.created)
    assert "Outcome" in str(latest.data) and "| reviewer3 | correct | id_number | validated |" in str(latest.data)
    assert right not in str(latest.data)
    assert outcome == {
        "document_id": doc_id,
        "changed": ["id_number"],
        "status": "validated",
        "reasons": [],
        "accepted": False,
    }
    with session_scope(ref.catalog_url) as s:
        assert [e.actor for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "field.corrected"))] == [
            "reviewer3"
        ]


def test_review_markdown_masks_ids_and_links_images() -> None:
    view = {
        "document_id": 7,
        "form_type": "registration",
        "source_file": "a.tif",
        "status": "needs_review",
        "reasons": [{"code": "ID_CHECK_DIGIT", "message": "wrong", "details": {}}],
        "data_docs": None,
        "fields": [
            {
                "name": "id_number",
                "value": "330106198212079408",
                "confidence": 0.99,
                "reasons": ["ID_CHECK_DIGIT"],
                "box": [[1, 2], [3, 2], [3, 4], [1, 4]],
                "image": "file:///x/ocr.png",
            },
            {
                "name": "phone",
                "value": "13800000000",
                "confidence": 0.99,
                "reasons": [],
                "box": None,
                "image": None,
            },
        ],
    }
    text = review_markdown(view)
    assert "330106********9408" in text and "330106198212079408" not in text
    assert "[page](file:///x/ocr.png) [[1, 2], [3, 2], [3, 4], [1, 4]]" in text and "13800000000" not in text
    assert ReviewInput(reviewer="r").decision == "correct"


def test_review_flow_rescan_decision(truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A reviewer rejects the pages (unreadable): the document waits for a rescan, its pages carry REVIEW_RESCAN."""
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run
    from prefect.testing.utilities import prefect_test_harness

    from dangan.catalog.models import Document, QualityIssue

    settings, ref, doc_id, _wrong, _right = _flagged_document(truth_batch, tmp_path)
    outcome: dict[str, Any] = {}
    with prefect_test_harness(server_startup_timeout=120):
        worker = _start_review(settings, doc_id, outcome)
        with get_client(sync_client=True) as client:
            run = _paused_run(client, time.monotonic() + 120)
        resume_flow_run(run.id, run_input={"reviewer": "reviewer4", "decision": "rescan", "reason": "page blurred"})
        worker.join(timeout=120)
    assert outcome["status"] == "rescan" and outcome["reasons"] == ["REVIEW_RESCAN"]
    with session_scope(ref.catalog_url) as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.status == "rescan"
        issues = s.scalars(select(QualityIssue).filter_by(code="REVIEW_RESCAN")).all()
        assert len(issues) == len(doc.pages) and all("reviewer4" in i.message for i in issues)
        event = s.scalars(select(AuditEvent).filter_by(actor="reviewer4")).one()
        assert "page blurred" in str(event.details)
