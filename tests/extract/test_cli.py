"""``dangan extract`` on a real scan, ``dangan review`` fed by the keyboard, ``dangan export records``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from cli.extract import register
from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Document
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.extract.store import extract_documents
from dangan.quality.store import validate_documents
from tests.extract.catalog import seed
from tests.extract.test_store import SITE, _docs


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def main(data_dir: Annotated[Path | None, typer.Option()] = None) -> None:
        """Test root with the real CLI's --data-dir option."""

    register(app)
    return app


def test_extract_prints_fields_of_a_scan(ocr_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, truths, _ = ocr_batch
    name = next(n for n in truths if "registration" in n)
    result = CliRunner().invoke(_app(), ["--data-dir", str(tmp_path), "extract", "--json", str(out / "scans" / name)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["path"].endswith(name) and printed["form_type"] == "registration"
    for key in ("id_number", "name", "birth_date", "employer_name", "contribution_base", "insured_since"):
        assert printed["fields"][key]["value"] == truths[name]["fields"][key], key
        assert len(printed["fields"][key]["box"]) == 4 and printed["fields"][key]["confidence"] > 0.5
    missing = CliRunner().invoke(_app(), ["--data-dir", str(tmp_path), "extract", "--json", str(tmp_path / "x.png")])
    assert missing.exit_code != 0


def test_review_and_export(truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "杭州市西湖区")
    docs, bad, wrong = _docs(truths)
    ids = seed(ref.catalog_url, SITE, docs)
    extract_documents(ref.catalog_url, SITE, ids.values())
    validate_documents(ref.catalog_url, SITE, ids.values())
    right = truths[bad]["fields"]["id_number"]
    app, base = _app(), ["--data-dir", str(tmp_path / "data")]

    # Flagged fields are asked in name order: id_number, then name (Enter keeps it); then "accept?" no.
    result = CliRunner().invoke(app, [*base, "review", "--site", SITE], input=f"{right}\n\nn\n")
    assert result.exit_code == 0, result.output
    assert "ID_CHECK_DIGIT" in result.output and wrong not in result.output  # the table shows IDs masked
    assert f"document {ids[bad]}: validated" in result.output
    with session_scope(ref.catalog_url) as s:
        assert s.get(Document, ids[bad]).status == "validated"  # type: ignore[union-attr]
        actors = {e.actor for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "field.corrected"))}
        assert actors == {settings.actor}
    assert "nothing to review" in CliRunner().invoke(app, [*base, "review", "--site", SITE]).output

    target = tmp_path / "records.csv"
    result = CliRunner().invoke(
        app, [*base, "export", "records", "--site", SITE, "--format", "csv", "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == len(ids) and {r["validation_status"] for r in rows} == {"passed"}
    assert right not in target.read_text(encoding="utf-8")
    assert {r["id_number"] for r in rows if r["source_file"] == bad} == {right[:6] + "********" + right[-4:]}
    grant = {"DANGAN_ACTOR": "li.ming", "DANGAN_ACCESS__GRANTS": '{"li.ming": ["pii.reveal"]}'}
    reveal = [*base, "export", "records", "--site", SITE, "--full-ids", "--reason", "transfer case 2024-118"]
    result = CliRunner().invoke(app, reveal, env=grant)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {r["fields"]["id_number"] for r in records if r["source_file"] == bad} == {right}
    stmt = next(r for r in records if r["form_type"] == "account_statement")
    assert stmt["contributions"] == truths[stmt["source_file"]]["contributions"]
