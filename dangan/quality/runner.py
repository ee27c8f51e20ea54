"""Run the suites on a batch of records in an ephemeral GX context; per-record reasons and findings out.

Results come back as record ids only (``exclude_unexpected_values``), so neither the reasons nor the Data
Docs built from them copy IDs or names out of the catalog. Data Docs go to ``docs_dir`` when given.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import great_expectations as gx
import pandas as pd
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig

from dangan.catalog.states import DocumentState
from dangan.pii import scrub
from dangan.quality import checks
from dangan.quality.errors import SuiteIntegrityError
from dangan.quality.messages import message_for
from dangan.quality.records import RecordInput, contributions_frame, records_frame
from dangan.quality.rules import QualityRules
from dangan.quality.suites import contributions_suite, records_suite

BLOCKING = ("critical", "warning")
DOCS_SITE = "dangan"
logging.getLogger("great_expectations").setLevel(logging.WARNING)


class ReasonDetails(TypedDict, total=False):
    """What a reason adds to its code: the failing contribution ``rows``, the ``missing`` months of a gap."""

    rows: list[int]
    missing: list[str]


class Reason(TypedDict):
    """One failed expectation for one record, as stored on its validation result (JSON) and shown to reviewers."""

    code: str
    fields: list[str]
    severity: str
    expectation: str
    message: str
    details: ReasonDetails


@dataclass
class RecordOutcome:
    """What the suites said about one record: blocking ``reasons`` and informational ``findings``."""

    record_id: str
    reasons: list[Reason] = field(default_factory=list)
    findings: list[Reason] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def status(self) -> str:
        """``validated`` or ``needs_review`` (the document status it leads to)."""
        return DocumentState.VALIDATED if self.passed else DocumentState.NEEDS_REVIEW


@dataclass
class ValidationRun:
    """One validation run over a batch of records."""

    run_id: str
    suite: str
    outcomes: dict[str, RecordOutcome]
    data_docs: str | None
    statistics: dict[str, Any]


class CheckFailed(RuntimeError):
    """An expectation raised instead of answering (a bug in a suite or a missing column)."""


def _quiet_gx_loggers() -> None:
    """GX's loggers at WARNING: some of its modules set their own logger to INFO when imported (e.g.
    ``great_expectations.data_context.types.base``, "Created temporary directory … for ephemeral docs site"),
    which the parent's level does not override."""
    known = logging.Logger.manager.loggerDict
    names = ["great_expectations", *(n for n in known if n.startswith("great_expectations."))]
    for name in names:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET or INFO/DEBUG set by GX itself
            logger.setLevel(logging.WARNING)


def _context(docs_dir: Path | None) -> Any:
    # GX announces its temporary folders at INFO on every run; operators only need its warnings.
    _quiet_gx_loggers()
    ctx = gx.get_context(mode="ephemeral")

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        ctx.add_data_docs_site(
            DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    return ctx


def _run_suite(ctx: Any, suite: Any, frame: pd.DataFrame, index_cols: list[str], run_id: str, docs: bool) -> Any:
    expected = Counter(x.expectation_type for x in suite.expectations)
    suite = ctx.suites.add(suite)
    stored = ctx.suites.get(suite.name)  # round trip through the store: unregistered types would vanish here
    if Counter(x.expectation_type for x in stored.expectations) != expected:
        raise SuiteIntegrityError(f"suite {suite.name} lost expectations in the GX store", suite=suite.name)
    source = ctx.data_sources.add_pandas(f"src-{suite.name}")
    batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("records")
    definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=batch, suite=stored))
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=f"cp-{suite.name}",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])] if docs else [],
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": index_cols,
                "exclude_unexpected_values": True,
            },
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_id))
    return next(iter(result.run_results.values()))


def _exceptions(info: Any) -> list[dict[str, Any]]:
    """Raised exceptions in a result's ``exception_info``: flat for some expectations, keyed by metric for
    others (map metrics)."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [info] if info.get("raised_exception") else []
    return [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]


def _failures(validation: Any) -> list[tuple[dict[str, Any], str, str, list[dict[str, Any]]]]:
    out = []
    for res in validation.results:
        config = res.expectation_config
        for info in _exceptions(res.exception_info):
            raise CheckFailed(f"{config.type} raised: {scrub(str(info.get('exception_message')))}")
        if res.success:
            continue
        level: Any = getattr(config, "severity", None) or "critical"
        severity = str(getattr(level, "value", level))
        out.append((config.meta or {}, config.type, severity, list(res.result.get("unexpected_index_list") or [])))
    return out


def _hits(unexpected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Row keys of failing rows. GX gives one dict per row, or (``exclude_unexpected_values``) one dict of
    column → list of keys; both shapes are accepted."""
    out: list[dict[str, Any]] = []
    for entry in unexpected:
        if entry and all(isinstance(v, list) for v in entry.values()):
            columns = list(entry)
            out.extend(dict(zip(columns, values, strict=True)) for values in zip(*entry.values(), strict=True))
        else:
            out.append(dict(entry))
    return out


def _add(outcome: RecordOutcome, reason: Reason) -> None:
    bucket = outcome.findings if reason["severity"] not in BLOCKING else outcome.reasons
    for known in bucket:
        if known["code"] == reason["code"] and known["fields"] == reason["fields"]:
            rows = sorted(set(known["details"].get("rows", [])) | set(reason["details"].get("rows", [])))
            if rows:
                known["details"]["rows"] = rows
            return
    bucket.append(reason)


def _detail(code: str, record: dict[str, Any] | None) -> tuple[str, ReasonDetails]:
    if record is None:
        return code, {}
    if code == "ID_INVALID" and record.get("id_number"):
        return checks.id_problem(str(record["id_number"])) or code, {}
    if code == "CONTRIBUTION_GAP" and record.get("contribution_periods"):
        return code, {"missing": checks.missing_months(json.loads(record["contribution_periods"]))}
    return code, {}


def _fields(code: str, meta: dict[str, Any], record: dict[str, Any] | None) -> list[str]:
    """The fields a reason points at: the expectation's own, or for ``FIELD_CONFLICT`` the record's
    conflicting fields (names only)."""
    if code == "FIELD_CONFLICT" and record is not None and record.get("field_conflicts"):
        return list(json.loads(record["field_conflicts"]))
    return list(meta.get("fields", []))


def validate_records(
    records: list[RecordInput],
    rules: QualityRules | None = None,
    *,
    docs_dir: Path | None = None,
    run_id: str | None = None,
) -> ValidationRun:
    """Run both suites on ``records``; every record gets an outcome (no failure → passed)."""
    rules = rules or QualityRules()
    run_id = run_id or uuid.uuid4().hex
    ctx = _context(docs_dir)
    frame = records_frame(records, rules)
    by_id = {str(r["record_id"]): r for r in frame.to_dict("records")}
    outcomes = {rec.record_id: RecordOutcome(rec.record_id) for rec in records}
    stats: dict[str, Any] = {}
    runs = [(records_suite(rules), frame, ["record_id"])]
    rows = contributions_frame(records)
    if len(rows):
        runs.append((contributions_suite(rules), rows, ["record_id", "row"]))
    for suite, data, index_cols in runs:
        if not len(data):
            continue
        validation = _run_suite(ctx, suite, data, index_cols, run_id, docs_dir is not None)
        stats[suite.name] = dict(validation.statistics)
        for meta, etype, severity, unexpected in _failures(validation):
            for hit in _hits(unexpected):
                rid = str(hit.get("record_id"))
                code, details = _detail(str(meta.get("code", etype)), by_id.get(rid))
                if "row" in hit:
                    details["rows"] = [int(hit["row"])]
                reason: Reason = {
                    "code": code,
                    "fields": _fields(code, meta, by_id.get(rid)),
                    "severity": severity,
                    "expectation": etype,
                    "message": message_for(code),
                    "details": details,
                }
                _add(outcomes.setdefault(rid, RecordOutcome(rid)), reason)
    docs = None
    if docs_dir is not None:
        docs = str(docs_dir / "index.html") if (docs_dir / "index.html").exists() else None
        # GX's pages load CSS/JS from public CDNs; the air-gapped sites get the vendored copies `dangan serve`
        # has under /static/ (the server rewrites again when serving, for docs built before this step existed)
        from dangan.web.assets import localize_tree

        unknown = localize_tree(docs_dir)
        if unknown:
            logging.getLogger(__name__).warning("Data Docs: no vendored copy of %s (not loaded offline)", unknown)
    names = "+".join(s.name for s, _, _ in runs)
    return ValidationRun(run_id, names, outcomes, docs, stats)
