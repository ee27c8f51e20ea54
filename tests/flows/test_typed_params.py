"""Typed flow parameters: what Prefect validates before a flow body runs and builds the Run form from.

Every deployment of deployments/prefect.yaml gets its parameter schema from ``parameter_schema`` (what
``prefect deploy`` sends to the server); the yaml's own parameters, every schedule's, and the parameters of
every Prefect command in the README are checked against it and through ``Flow.validate_parameters``.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prefect.exceptions import ParameterTypeError
from prefect.utilities.callables import parameter_schema

from dangan.config import load_settings
from dangan.errors import ConfigError
from dangan.reprocess import Selector
from flows.params import MigrationSelector, PageSelector, Stage, config_ref, settings_for

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _flow(entrypoint: str) -> Any:
    path, name = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def _schema(fl: Any) -> dict[str, Any]:
    return parameter_schema(fl).model_dump_for_openapi()


def _by_flow_and_deployment() -> dict[str, Any]:
    """``flow-name/deployment-name`` → (flow, the deployment's yaml) as ``prefect deployment run`` names them."""
    found = {}
    for d in DEPLOYMENTS:
        fl = _flow(d["entrypoint"])
        found[f"{fl.name}/{d['name']}"] = (fl, d)
    return found


def _cli_value(raw: str) -> Any:
    """A ``--param k=v`` value as Prefect's CLI sends it: JSON when it parses, else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _readme_commands() -> list[tuple[str, dict[str, Any]]]:
    """Every ``prefect deployment run NAME --param k=v ...`` of the README (continuation lines joined)."""
    commands = []
    for line in README.replace("\\\n", " ").splitlines():
        if "prefect deployment run" not in line:
            continue
        words = shlex.split(line, comments=True)
        name = words[words.index("run") + 1]
        params = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--param")
        commands.append((name, {k: _cli_value(v) for k, v in params.items()}))
    return commands


def _readme_param_snippets() -> list[tuple[str, Any]]:
    """``--param k=v`` given in the README's prose (e.g. `--param ocr_deployment=ocr-pages/ocr-gpu`)."""
    return [(k, _cli_value(v)) for k, v in re.findall(r"`--param (\w+)=([^`\s]+)`", README)]


def _validator(fl: Any) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_schema(fl))


@pytest.mark.parametrize("d", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_every_parameter_is_typed_and_the_yaml_parameters_fit(d: dict[str, Any]) -> None:
    fl = _flow(d["entrypoint"])
    schema = _schema(fl)
    for name, prop in schema["properties"].items():
        # a bare object ({"type": "object"} with nothing inside) is a dict: no form field, no validation
        assert prop.get("type") != "object" or prop.get("properties"), (fl.name, name, prop)
        assert name != "settings", "settings travel by reference (config), not as a parameter"
    assert "config" in schema["properties"], fl.name
    base = d.get("parameters") or {}
    for schedule in d.get("schedules") or [{}]:
        params = {**base, **(schedule.get("parameters") or {})}
        if schedule:  # a scheduled run has no other source of parameters: they must be complete
            errors = [e.message for e in _validator(fl).iter_errors(params)]
            assert not errors, (d["name"], errors)
            fl.validate_parameters(params)
        else:
            props = schema["properties"]
            for key, value in params.items():
                assert key in props, (d["name"], key)
                v = jsonschema.Draft202012Validator({**props[key], "definitions": schema.get("definitions", {})})
                assert v.is_valid(value), (d["name"], key, value)


def test_the_readme_prefect_commands_work_as_written() -> None:
    commands = _readme_commands()
    assert commands, "the README shows how to trigger a deployment"
    deployments = _by_flow_and_deployment()
    for name, params in commands:
        assert name in deployments, f"README names deployment {name}, which deployments/prefect.yaml lacks"
        fl, d = deployments[name]
        merged = {**(d.get("parameters") or {}), **params}
        errors = [e.message for e in _validator(fl).iter_errors(merged)]
        assert not errors, (name, params, errors)  # the server accepts the run
        validated = fl.validate_parameters(merged)  # and the flow takes it
        if "site" in params:
            assert validated["site"] == str(params["site"])


def test_the_readme_parameter_snippets_fit_their_flows() -> None:
    snippets = dict(_readme_param_snippets())
    assert {"ocr_deployment", "config"} <= set(snippets), snippets
    digitize = _by_flow_and_deployment()["digitize/digitize"][0]
    base = {"source": "/scans/2026-11-27", "site": 330106}
    for key, value in snippets.items():
        assert _validator(digitize).is_valid({**base, key: value}), (key, value)
        assert digitize.validate_parameters({**base, key: value})[key] == value


@pytest.mark.parametrize("selector", ["all", {"category": "养老保险"}, {"person_ids": [3, 1]}, {"all": True}])
def test_the_readme_migration_selectors_fit(selector: Any) -> None:
    fl, _ = _by_flow_and_deployment()["regional-migration/regional-migration"]
    params = {"from_site": "330106", "to_site": "330100", "selector": selector}
    assert _validator(fl).is_valid(params)
    validated = fl.validate_parameters(params)["selector"]
    assert validated == "all" if selector == "all" else isinstance(validated, MigrationSelector)


def test_a_migration_selector_with_resident_ids_is_refused_without_echoing_them() -> None:
    fl, _ = _by_flow_and_deployment()["regional-migration/regional-migration"]
    rid = "11010519491231002X"
    with pytest.raises(ConfigError) as info:
        fl.validate_parameters({"from_site": "330106", "to_site": "330100", "selector": {"resident_ids": [rid]}})
    assert rid not in str(info.value) and "--ids-file" in (info.value.hint or "")


@pytest.mark.parametrize("bad", [{"selector": {"batch": "b-1"}}, {"selector": "all"}])
def test_ocr_selector_is_a_model(bad: dict[str, Any]) -> None:
    fl, _ = _by_flow_and_deployment()["ocr-pages/ocr-gpu"]
    with pytest.raises(ParameterTypeError, match="selector"):
        fl.validate_parameters({"site": "330106", **bad})
    ok = fl.validate_parameters({"site": "330106", "selector": {"batch_id": "b-1", "page_ids": [1]}})
    assert ok["selector"] == PageSelector(batch_id="b-1", page_ids=[1])


def test_reprocess_selector_and_stages_are_typed() -> None:
    fl, _ = _by_flow_and_deployment()["reprocess/reprocess"]
    ok = fl.validate_parameters(
        {"site": 330106, "selector": {"qa_codes": ["BLANK_PAGE"], "ingested_from": "2026-01-01"}, "stages": ["ocr"]}
    )
    assert isinstance(ok["selector"], Selector) and str(ok["selector"].ingested_from) == "2026-01-01"
    assert ok["stages"] == [Stage.OCR]
    with pytest.raises(ParameterTypeError, match="stages"):
        fl.validate_parameters({"site": "330106", "stages": ["ocr", "translate"]})
    with pytest.raises(ParameterTypeError, match="selector"):
        fl.validate_parameters({"site": "330106", "selector": {"page": 3}})  # a typo is not "every page"
    stages = _schema(fl)["definitions"]["Stage"]
    assert stages["enum"] == ["ocr", "extract"]  # the Run form offers the choices


@pytest.mark.parametrize("d", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_every_flow_refuses_a_malformed_site_code_with_a_clear_message(d: dict[str, Any]) -> None:
    fl = _flow(d["entrypoint"])
    schema = _schema(fl)
    sites = [p for p, prop in schema["properties"].items() if "site code" in json.dumps(prop)]
    assert sites, f"{fl.name} takes no site code"
    for param in sites:
        params = {p: _valid(schema, p) for p in schema.get("required", [])} | {param: "33010"}
        assert not _validator(fl).is_valid(params)  # the server refuses the run
        with pytest.raises(ParameterTypeError) as info:
            fl.validate_parameters(params)  # and so does the flow, called directly
        assert "SITE_CODE_INVALID" in str(info.value) and param in str(info.value)
        assert "6 ASCII digits" in str(info.value)


def _valid(schema: dict[str, Any], name: str) -> Any:
    prop = schema["properties"][name]
    if "site code" in json.dumps(prop):
        return "330106"
    return {"integer": 1, "string": "x"}.get(prop.get("type", "string"), "x")


def test_settings_travel_by_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(data_dir=tmp_path / "data", actor="li", ingest={"chunk_size": 7})
    ref = config_ref(settings)
    assert ref == config_ref(settings) and Path(ref).is_relative_to(tmp_path / "data")  # one file per settings
    monkeypatch.setenv("DANGAN_INGEST__CHUNK_SIZE", "99")  # the run's own file wins over the worker's env
    loaded = settings_for(ref)
    assert (loaded.data_dir, loaded.actor, loaded.ingest.chunk_size) == (settings.data_dir, "li", 7)
    toml = tmp_path / "dangan.toml"
    toml.write_text(f'data_dir = "{tmp_path / "other"}"\n[ocr]\nchunk_size = 5\n', encoding="utf-8")
    from_toml = settings_for(str(toml))
    assert from_toml.data_dir == tmp_path / "other" and from_toml.ocr.chunk_size == 5
    assert from_toml.ingest.chunk_size == 99  # what the file leaves out comes from the worker
    with pytest.raises(ConfigError, match="cannot read the settings file"):
        settings_for(str(tmp_path / "missing.toml"))
    (tmp_path / "bad.toml").write_text("data_dir = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid toml"):
        settings_for(str(tmp_path / "bad.toml"))
