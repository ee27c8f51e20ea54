"""Site codes as flow parameters: ``--param site=330106`` arrives as an integer and must still be accepted.

Prefect builds a deployment's parameter schema with ``parameter_schema`` (what ``prefect deploy`` sends to the
server, which checks every run's parameters against it) and validates parameters with
``Flow.validate_parameters`` before the flow body runs. Both are checked here for every flow's site parameters.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from prefect.exceptions import ParameterTypeError
from prefect.utilities.callables import parameter_schema

from flows.digitize import digitize
from flows.fixity import fixity_audit
from flows.ingest import ingest_batch, ingest_chunk_flow
from flows.migrate import regional_migration
from flows.ocr import ocr_pages
from flows.reprocess import reprocess
from flows.review import review_document
from flows.transfer import transfer_archive

SITE_PARAMS: list[tuple[Any, str]] = [
    (digitize, "site"),
    (fixity_audit, "site"),
    (ingest_batch, "site"),
    (ingest_chunk_flow, "site"),
    (ocr_pages, "site"),
    (reprocess, "site"),
    (review_document, "site"),
    (regional_migration, "from_site"),
    (regional_migration, "to_site"),
    (transfer_archive, "from_site"),
    (transfer_archive, "to_site"),
]
IDS = [f"{f.name}.{p}" for f, p in SITE_PARAMS]


def _schema(fl: Any) -> dict[str, Any]:
    return parameter_schema(fl).model_dump_for_openapi()


@pytest.mark.parametrize(("fl", "param"), SITE_PARAMS, ids=IDS)
def test_deployment_schema_accepts_the_cli_integer_and_the_string(fl: Any, param: str) -> None:
    schema = _schema(fl)
    prop = schema["properties"][param]
    assert prop["anyOf"][0]["type"] == "string"  # the Run form's first (default) choice is a text field
    validator = jsonschema.Draft202012Validator(prop)
    for ok in (330106, "330106"):
        assert validator.is_valid(ok), (param, ok)
    for bad in ("33010", "3301067", 33010, 1330106, 330106.5, None):
        assert not validator.is_valid(bad), (param, bad)


@pytest.mark.parametrize(("fl", "param"), SITE_PARAMS, ids=IDS)
def test_flow_validation_turns_the_integer_into_the_site_string(fl: Any, param: str) -> None:
    required = {p: "x" for p in _schema(fl).get("required", []) if p != param}
    required = {p: _dummy(fl, p) for p in required}
    validated = fl.validate_parameters({**required, param: 330106})
    assert validated[param] == "330106" and isinstance(validated[param], str)
    assert fl.validate_parameters({**required, param: "330106"})[param] == "330106"


@pytest.mark.parametrize("bad", ["33010", "３３０１０６", " 330106", 12345, 1330106, True, 330106.0])
def test_a_malformed_site_code_is_refused_with_its_code(bad: Any) -> None:
    with pytest.raises(ParameterTypeError, match="SITE_CODE_INVALID"):
        digitize.validate_parameters({"source": "/scans", "site": bad})


def test_transfer_sites_may_be_left_out() -> None:
    validated = transfer_archive.validate_parameters({"transfer_id": "t-1"})
    assert validated.get("from_site", "") == "" and validated.get("to_site", "") == ""
    assert transfer_archive.validate_parameters({"transfer_id": "t-1", "from_site": ""})["from_site"] == ""


def _dummy(fl: Any, name: str) -> Any:
    """A valid value for a required parameter other than the one under test."""
    prop = _schema(fl)["properties"][name]
    if "anyOf" in prop and prop["anyOf"][0].get("title", "").startswith("site code"):
        return "110105"
    return {"integer": 1, "string": "x", "object": {}, "array": []}.get(prop.get("type", "string"), "x")
