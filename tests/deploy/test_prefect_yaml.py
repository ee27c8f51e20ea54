"""``deployments/prefect.yaml`` against the code: entrypoints import, scheduled parameters are ones the flows accept."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from dangan.transfer.reconcile import parse_selector

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS: list[dict[str, Any]] = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text("utf-8"))[
    "deployments"
]


def _flow(entrypoint: str) -> Any:
    path, name = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_scheduled_parameters_are_accepted(deployment: dict[str, Any]) -> None:
    flow = _flow(deployment["entrypoint"])
    for schedule in deployment.get("schedules") or []:
        params = schedule.get("parameters") or {}
        flow.validate_parameters(params)  # raises on unknown names or wrong types
        if "selector" in params:
            parse_selector(params["selector"])  # a selector the flow refuses would fail every scheduled run


def test_a_refused_selector_is_caught() -> None:
    from dangan.errors import ConfigError

    with pytest.raises(ConfigError):
        parse_selector({})
