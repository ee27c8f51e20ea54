"""Flow parameter types shared by every flow: site codes, the settings reference, selectors and stages.

Every flow parameter is typed, so Prefect validates a run's parameters before the flow body runs and builds
the dashboard's Run form from the deployment's parameter schema.

``SiteCode``: a county site code as a flow parameter. Site codes are strings that look like numbers
(``"330106"``); ``prefect deployment run … --param site=330106`` parses the value as JSON and sends the
integer 330106, and the API and automations may do the same. The deployment's parameter schema therefore
accepts a string or an integer (the dashboard's Run form shows the string choice first), and the flow's
parameter validation turns either into the validated 6-digit string, so a flow body only ever sees ``str``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator

from dangan.config import Settings, load_settings
from dangan.errors import ConfigError, SiteCodeInvalid

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


# --- settings by reference --------------------------------------------------------------------------------
def settings_for(config: str | None) -> Settings:
    """The settings of a flow run, loaded once at its start from its ``config`` parameter.

    ``config`` is a reference, never the settings themselves (Prefect stores and shows every run's parameters):
    ``None`` means the worker's own configuration (``DANGAN_*`` environment, ``./dangan.toml`` or
    ``DANGAN_CONFIG``); otherwise the path of a settings file on the worker, a ``dangan.toml`` or a snapshot
    written by :func:`config_ref`. The file's values win over the worker's environment (a run's own
    configuration is more specific than its worker's); what the file leaves out comes from there.
    """
    if config is None:
        return load_settings()
    path = Path(config).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(
            f"cannot read the settings file {config!r} given as the run's config: {exc.strerror}",
            hint="Give the path of a dangan.toml that exists on the worker, or leave config empty to use the "
            "worker's own configuration (DANGAN_* environment, dangan.toml).",
            config=config,
        ) from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors
        raise ConfigError(f"the settings file {config!r} is not valid {path.suffix[1:] or 'TOML'}: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"the settings file {config!r} does not hold a table of settings")
    return load_settings(**values)


def config_ref(settings: Settings) -> str:
    """A ``config`` parameter for ``settings`` (the CLI's and tests' loaded settings): the path of a snapshot of
    what they set, written once under ``<data_dir>/run-config/`` (named by its content, so runs with the same
    settings share it). Holds what a ``dangan.toml`` holds, so passwords stay ``${VARIABLE}`` references."""
    values = settings.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    values |= {"data_dir": str(settings.data_dir), "actor": settings.actor}
    text = json.dumps(values, ensure_ascii=False, sort_keys=True, indent=1)
    folder = settings.data_dir / "run-config"
    path = folder / f"settings-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # whole or absent: a concurrent run never reads half a file
    return str(path)


# --- selectors and stages -----------------------------------------------------------------------------------
class Stage(StrEnum):
    """A stage the ``reprocess`` flow can rerun."""

    OCR = "ocr"
    EXTRACT = "extract"  # extraction, then validation


class PageSelector(BaseModel):
    """Which pages the ``ocr-pages`` flow reads (every given criterion must hold; none: all pages of the site)."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str | None = Field(None, description="pages of this scan batch")
    document_ids: list[int] | None = Field(None, description="pages of these documents (catalog ids)")
    page_ids: list[int] | None = Field(None, description="these pages (catalog ids)")


class MigrationSelector(BaseModel):
    """Whose archives a regional migration moves: everyone (``all``), catalog person ids, or one category.

    Never resident IDs: a selector is a flow parameter, which Prefect stores unmasked. ``dangan migrate
    --ids-file`` turns resident IDs into person ids before it starts the flow."""

    model_config = ConfigDict(extra="forbid")

    all: bool | None = Field(None, description="every active person of the source site")
    person_ids: list[int] | None = Field(None, description="source catalog person row ids")
    category: str | None = Field(None, description="persons with a dossier of this category, e.g. 养老保险")

    @model_validator(mode="before")
    @classmethod
    def _no_resident_ids(cls, data: Any) -> Any:
        # ConfigError is no ValueError: pydantic raises it as it is, and Prefect does not log the parameters
        if isinstance(data, dict) and "resident_ids" in data:
            from dangan.transfer.reconcile import parse_selector

            parse_selector({"resident_ids": []})  # raises the operator's refusal (what to run instead)
        return data

    def criteria(self) -> dict[str, Any]:
        """The given criteria, as :func:`dangan.transfer.reconcile.parse_selector` takes them."""
        return self.model_dump(exclude_none=True) or {"all": True}


#: A regional migration's ``selector`` parameter: ``"all"`` or a :class:`MigrationSelector`.
MigrationChoice = Literal["all"] | MigrationSelector
