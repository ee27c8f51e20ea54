"""The Prefect review flow pauses with a form, and the reviewer's answer is applied and validated again."""

from __future__ import annotations

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


def test_review_flow_pause_and_resume(truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run
    from prefect.testing.utilities import prefect_test_harness

    from flows.review import review_document
    from tasks.common import settings_payload

    _, truths = truth_batch
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "杭州市西湖区")
    docs, bad, wrong = _docs(truths)
    docs = {bad: docs[bad]}
    ids = seed(ref.catalog_url, SITE, docs)
    extract_documents(ref.catalog_url, SITE, ids.values())
    validate_documents(ref.catalog_url, SITE, ids.values())
    right = truths[bad]["fields"]["id_number"]
    outcome: dict[str, Any] = {}

    with prefect_test_harness(server_startup_timeout=120):
        worker = threading.Thread(
            target=lambda: outcome.update(
                review_document(SITE, ids[bad], settings=settings_payload(settings), timeout=300, poll_interval=1)
            )
        )
        worker.start()
        with get_client(sync_client=True) as client:
            run = _paused_run(client, time.monotonic() + 120)
            keyset = run.state.state_details.run_input_keyset
            assert keyset is not None  # the pause waits for input (a form), not just a resume click
            description = client.read_flow_run_input(run.id, keyset["description"])
        assert "ID_CHECK_DIGIT" in description and wrong not in description and right not in description
        resume_flow_run(run.id, run_input={"reviewer": "reviewer3", "corrections": {"id_number": right, "name": ""}})
        worker.join(timeout=120)
    assert outcome == {
        "document_id": ids[bad],
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
    assert ReviewInput(reviewer="r").corrections == {}
