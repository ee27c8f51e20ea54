"""File names that carry a person's name and ID never reach an operator's screen, an artifact or a log unmasked.

Scanners name files after people (``钟燕_登记表.png``, ``330106198212070024_1.tif``) and folders after IDs; the
batch manifest says whose they are. Every display masks them: the ingest summary artifacts, the 四性检测
report, ``dangan ingest`` (tables and ``--json``), ``dangan search``, the review form and ``dangan export``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, FieldValue, Master, OcrResult, Page, ScanBatch
from dangan.pii import mask_id, mask_name
from tests.ingest import badfiles

SITE = "330106"
RID, NAME = "330106198212070024", "钟燕"
SECRETS = (RID, NAME, "19821207")  # the birth date is the part of an ID a mask must drop
runner = CliRunner()


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.fixture
def named_batch(tmp_path: Path) -> tuple[Path, Path]:
    """A source folder named after the person, files named after them, a manifest saying whose they are."""
    src = tmp_path / f"扫描_{NAME}_{RID}"
    form = badfiles.good_png()
    files = {
        f"{NAME}_登记表.png": form,
        f"{NAME}_副本.png": form,  # the same bytes again: a duplicate
        f"{RID}_1.tif": badfiles.multipage_tiff(2),
        f"ID{RID}.png": b"not an image at all " * 10,  # quarantined; the ID is glued to other letters
        f"{NAME}_备注.png": badfiles.good_png(40),  # not in the manifest
    }
    for name, data in files.items():
        badfiles.write(src, name, data)
    manifest = tmp_path / "manifest.csv"
    listed = [(f"{NAME}_登记表.png", 2), (f"{NAME}_副本.png", 2), (f"{RID}_1.tif", 2), (f"ID{RID}.png", 1)]
    listed.append((f"{NAME}_缺失.png", 1))  # listed, never delivered
    with manifest.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "site", "resident_id", "name", "dossier_category", "form_type", "expected_pages"])
        w.writerows([[n, SITE, RID, NAME, "养老保险", "registration", pages] for n, pages in listed])
    return src, manifest


def test_masker_masks_known_values_and_id_like_tokens() -> None:
    from dangan.pii import Masker

    mask = Masker(ids=[RID.lower()], names=[NAME, "王"])  # one-character "names" are ignored
    assert mask(f"{NAME}_登记表.png") == f"{mask_name(NAME)}_登记表.png"
    assert mask(f"ID{RID}.png") == f"ID{mask_id(RID)}.png"  # glued: scrub alone misses it
    assert mask("王五 11010519491231002X") == "王五 110105********002X"  # unknown IDs: still scrubbed
    assert mask(None) == ""
    assert mask(f"号码{RID[:15]}") == f"号码{RID[:6]}{'*' * 9}"  # an ID cut short shows no birth date
    assert mask(f"{RID[4:]}…") == "*" * 14 + "…"
    both = Masker.combine([Masker(names=["王五"]), mask])
    assert both(f"王五 {NAME} {RID[:12]}") == f"王* {mask_name(NAME)} {RID[:6]}******"
    assert Masker(replacements={"钟燕_x.png": "钟*_x.png"})("see 钟燕_x.png!") == "see 钟*_x.png!"


def test_ingest_displays_mask_names_and_ids(prefect_harness, named_batch, tmp_path: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from cli import extract as cli_extract
    from cli import support as cli_support
    from cli.app import app
    from cli.extract import _review_table
    from dangan.catalog.sites import add_site, get_site
    from dangan.config import load_settings
    from dangan.fourprops import check_batch, markdown
    from dangan.ingest.batch import evidence_links
    from dangan.ingest.report import IngestReport
    from dangan.reports import ingest_markdown, outcome_rows
    from dangan.storage.factory import open_store
    from flows.review import review_markdown

    src, manifest = named_batch
    data = tmp_path / "data"
    settings = load_settings(data_dir=data)
    add_site(settings, SITE, "杭州市西湖区")
    ref = get_site(settings, SITE)
    for console in (cli_support.console, cli_support.err_console, cli_extract.console):
        monkeypatch.setattr(console, "width", 400)  # no cell wrapped across lines (a name split would hide)
    cli = ["--data-dir", str(data)]

    with caplog.at_level(logging.INFO):
        shown = runner.invoke(app, [*cli, "ingest", str(src), "--site", SITE, "--manifest", str(manifest)])
        as_json = runner.invoke(app, [*cli, "ingest", str(src), "--site", SITE, "--manifest", str(manifest), "--json"])
    assert shown.exit_code == 0, shown.output
    assert as_json.exit_code == 0, as_json.output
    assert _leaks(shown.output) == [] and _leaks(as_json.output) == []
    assert _leaks(caplog.text) == []
    assert f"{mask_name(NAME)}_备注.png" in shown.output  # masked, not dropped
    assert "INGEST_NOT_IN_MANIFEST" in shown.output and "listed, not delivered" in shown.output

    with session_scope(ref.catalog_url) as s:
        batch = s.scalars(select(ScanBatch)).one()
        report, batch_id = IngestReport.model_validate(batch.report), batch.id
    assert report.unaccounted == [] and report.duplicates and report.page_count_mismatches
    assert f"{NAME}_缺失.png" in report.missing_files  # the catalog keeps the real names
    assert json.loads(as_json.output.strip().splitlines()[-1])["missing_files"] == [f"{mask_name(NAME)}_缺失.png"]

    # the artifacts: the flow's own, and the report functions directly
    with get_client(sync_client=True) as client:
        artifacts = [str(a.data) for a in client.read_artifacts() if a.key and a.key.startswith("ingest-")]
    assert artifacts and all(_leaks(body) == [] for body in artifacts)
    md = ingest_markdown(report, evidence_links(settings, SITE, batch_id))
    assert _leaks(md) == [] and _leaks(json.dumps(outcome_rows(report), ensure_ascii=False)) == []
    assert f"{mask_name(NAME)}_缺失.png" in md and f"ID{mask_id(RID)}.png" in md

    # 四性检测: a damaged master and a file that never came are named, masked
    store = open_store(ref.store_url)
    with session_scope(ref.catalog_url) as s:
        tif = s.scalars(select(Master).where(Master.original_name == f"{RID}_1.tif")).one()
    path = Path(ref.store_url) / tif.object_key
    path.write_bytes(path.read_bytes()[:-10] + b"\0" * 10)
    four = check_batch(ref.catalog_url, store, SITE, batch_id)
    assert {p.code for p in four.problems} >= {"CHECKSUM_MISMATCH", "MANIFEST_ITEM_MISSING"}
    four_md = markdown(four.to_dict())
    assert _leaks(four_md) == [] and f"{mask_id(RID)}_1.tif" in four_md

    # search: the file column and the OCR snippet
    with session_scope(ref.catalog_url) as s:
        page = s.scalars(select(Page).join(Master).where(Master.original_name.like(f"{NAME}%"))).first()
        assert page is not None and page.document_id is not None
        doc_id = page.document_id
        s.add(
            OcrResult(
                page_id=page.id,
                engine="test",
                model="test",
                device="cpu",
                text=f"参保人员登记表\n姓名 {NAME}\n公民身份号码 {RID}",
            )
        )
        s.add(FieldValue(document_id=doc_id, name="name", value=NAME))
        s.add(FieldValue(document_id=doc_id, name="id_number", value=RID))
        s.get(Document, doc_id).status = "needs_review"  # type: ignore[union-attr]
    with caplog.at_level(logging.INFO):
        found = runner.invoke(app, [*cli, "search", "公民身份号码", "--site", SITE])
        by_name = runner.invoke(app, [*cli, "search", NAME, "--site", SITE])
    assert found.exit_code == 0 and "1 pages contain" in found.output, found.output
    assert _leaks(found.output) == [] and _leaks(by_name.output) == [] and _leaks(caplog.text) == []
    assert f"{RID[:6]}*********" in found.output and f"{mask_name(NAME)}_" in found.output  # the cut ID too

    # the review form and table, and the export of extracted records
    from dangan.extract.review import review_items
    from dangan.reports import document_maskers

    view = review_items(ref.catalog_url, doc_id, store=store)
    masker = document_maskers(ref.catalog_url, [doc_id])[doc_id]
    out = io.StringIO()
    Console(file=out, width=400).print(_review_table(view, masker))
    assert _leaks(review_markdown(view, masker)) == [] and _leaks(review_markdown(view)) == []
    assert _leaks(out.getvalue()) == []
    exported = runner.invoke(app, [*cli, "export", "records", "--site", SITE])
    assert exported.exit_code == 0, exported.output
    records = [json.loads(line) for line in exported.output.splitlines() if line.startswith("{")]
    assert records and all(_leaks(r["source_file"]) == [] for r in records)
    grant = {"DANGAN_ACTOR": "li.ming", "DANGAN_ACCESS__GRANTS": '{"li.ming": ["pii.reveal"]}'}
    reveal = [*cli, "export", "records", "--site", SITE, "--full-ids", "--reason", "checking the source files"]
    full = runner.invoke(app, reveal, env=grant)  # clear values only for a granted operator, with a reason
    assert any(NAME in json.loads(line)["source_file"] for line in full.output.splitlines() if line.startswith("{"))
