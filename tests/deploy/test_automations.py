"""Automations as code: created from deployments/automations.yaml, notifying through a named block."""

from __future__ import annotations

import pytest

from dangan.errors import ConfigError


def test_automations_created_from_yaml(prefect_harness) -> None:  # type: ignore[no-untyped-def]
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from flows.deploy import ensure_automations, ensure_limits

    CustomWebhookNotificationBlock(name="ops", url="http://127.0.0.1:9/hook", json_data={"text": "{{body}}"}).save(
        "dangan-ops-test", overwrite=True
    )
    with pytest.raises(ConfigError):  # a bare name cannot be resolved: say how to write it
        ensure_automations("dangan-ops-test")
    names = ensure_automations("custom-webhook/dangan-ops-test")
    assert names == ["dangan-transfer-failed", "dangan-fixity-failed"]
    assert ensure_automations("custom-webhook/dangan-ops-test") == names  # re-running replaces, never duplicates
    for name, event in zip(names, ("dangan.transfer.failed", "dangan.fixity.failed"), strict=True):
        auto = Automation.read(name=name)
        assert auto.trigger.expect == {event}
        assert auto.actions[0].type == "send-notification"
    # a site code no other test uses: the Prefect harness (and its limits) is shared by the whole session
    assert ensure_limits(["440305"], gpus=2, storage_per_site=3) == {"ocr-gpu": 2, "storage-440305": 3}
