"""The state enums and the transition table describe the same states, and enum members stand for their strings."""

from __future__ import annotations

import json

from dangan.catalog.states import STATES, TRANSITIONS, DocumentState, PageState, TransferState, can_transition


def test_every_state_in_the_table_is_an_enum_member_and_back() -> None:
    assert set(STATES) == set(TRANSITIONS)
    for entity, table in TRANSITIONS.items():
        named = set(table) | {t for targets in table.values() for t in targets}
        members = {m.value for m in STATES[entity]}
        assert named <= members, (entity, named - members)
        # every member is reachable from or leads somewhere (no state the table forgot)
        assert members <= named, (entity, members - named)


def test_members_equal_their_catalog_strings() -> None:
    assert PageState.NEEDS_REVIEW == "needs_review" and DocumentState.RESCAN == "rescan"
    assert json.dumps({"status": TransferState.DONE}) == '{"status": "done"}'
    assert f"{PageState.OCR_DONE}" == "ocr_done"
    # rows hold plain strings: the table answers for them as for the members
    assert can_transition("page", "extracted", PageState.NEEDS_REVIEW)
    assert can_transition("page", PageState.EXTRACTED, "needs_review")
    assert not can_transition("document", "registered", DocumentState.VALIDATED)
