"""Flow parameter types shared by every flow.

``SiteCode``: a county site code as a flow parameter. Site codes are strings that look like numbers
(``"330106"``); ``prefect deployment run … --param site=330106`` parses the value as JSON and sends the
integer 330106, and the API and automations may do the same. The deployment's parameter schema therefore
accepts a string or an integer (the dashboard's Run form shows the string choice first), and the flow's
parameter validation turns either into the validated 6-digit string, so a flow body only ever sees ``str``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from dangan.errors import SiteCodeInvalid

_DIGITS = re.compile(r"^[0-9]{6}$")  # ASCII digits only: str.isdigit() would take full-width and other digits

SITE_CODE_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": _DIGITS.pattern, "title": "site code"},
        # an integer cannot carry a leading zero, so only 6-digit integers (GB/T 2260 codes start at 11xxxx)
        {"type": "integer", "minimum": 100000, "maximum": 999999, "title": "site code (number)"},
    ],
    "description": "6-digit GB/T 2260 county code, e.g. 330106 (站点代码)",
}


def site_code(value: Any) -> str:
    """``value`` as a validated 6-digit site code string; a 6-digit integer is accepted and turned into one.

    Raises :class:`SiteCodeInvalid` (a ``ValueError``) for anything else, e.g. ``True``, ``330106.0``, ``"33010"``.
    """
    if isinstance(value, str):
        if _DIGITS.match(value):
            return value
        reason = "not 6 ASCII digits"
    elif isinstance(value, int) and not isinstance(value, bool):
        if 100000 <= value <= 999999:
            return str(value)
        reason = "a number that is not 6 digits"
    else:
        reason = f"a {type(value).__name__}, not a string or an integer"
    raise SiteCodeInvalid(f"site code {str(value)[:20]!r} is {reason}", value=str(value)[:20], reason=reason)


# Prefect builds a deployment's parameter schema from this JSON schema and validates each run's parameters
# with this validator before the flow body runs (Flow.validate_parameters).
SiteCode = Annotated[str, PlainValidator(site_code), WithJsonSchema(SITE_CODE_JSON_SCHEMA)]


def site_code_or_empty(value: Any) -> str:
    """Like :func:`site_code`, but ``""`` (not given) stays ``""``."""
    return "" if value == "" else site_code(value)


SITE_CODE_OR_EMPTY_JSON_SCHEMA: dict[str, Any] = {
    **SITE_CODE_JSON_SCHEMA,
    "anyOf": [{**SITE_CODE_JSON_SCHEMA["anyOf"][0], "pattern": "^([0-9]{6})?$"}, SITE_CODE_JSON_SCHEMA["anyOf"][1]],
}
# A site code that may be left out (``""``): the transfer flow's sites, which a ``transfer_id`` already names.
SiteCodeOrEmpty = Annotated[str, PlainValidator(site_code_or_empty), WithJsonSchema(SITE_CODE_OR_EMPTY_JSON_SCHEMA)]
