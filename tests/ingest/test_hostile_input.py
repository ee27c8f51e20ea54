"""Hostile input at ingest (issue 19, items 5 and 8): bad manifest values, other sites' rows, look-alike site
codes, linked folders, spreadsheet formulas, and two ingests of one folder at once. A bad value is a reported
problem on its row and a quarantined file, never a crash or a catalog row; the same on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, text
from typer.testing import CliRunner

from cli.app import app
from dangan.catalog.db import get_engine, session_scope
from dangan.catalog.models import AuditEvent, Document, Master, Person, QuarantineItem, ScanBatch
from dangan.catalog.schema import alembic_config, upgrade
from dangan.catalog.sites import add_site
from dangan.config import load_settings, validate_site_code
from dangan.csvsafe import SafeDictWriter
from dangan.errors import ConfigError
from dangan.extract.export import write_records
from dangan.ids import make_id
from dangan.ingest import batch as batch_mod
from dangan.ingest.batch import ingest_batch_local
from dangan.ingest.manifest import COLUMNS, parse_manifest
from tests.ingest import badfiles

SITE = "330106"
RID = make_id(SITE, date(1980, 5, 17), 12, "男")
SQL_ID = "1'; DROP TABLE person; --xxxxxxxx"  # 34 characters: longer than person.resident_id
LONG_NAME = "张" * 150
HEADER = list(COLUMNS)


def _line(file: str, **values: str) -> dict[str, str]:
    base = {
        "file": file,
        "site": SITE,
        "resident_id": RID,
        "name": "张三",
        "dossier_category": "养老保险",
        "retention": "permanent",
        "form_type": "registration",
        "doc_date": "2019-03-01",
        "expected_pages": "1",
        "operator": "王五",
    }
    return base | values


# file -> (manifest line, the column its problem is reported in)
HOSTILE: dict[str, tuple[dict[str, str], str]] = {
    "sql-id.png": (_line("sql-id.png", resident_id=SQL_ID), "resident_id"),
    "long-name.png": (_line("long-name.png", name=LONG_NAME), "name"),
    "other-site.png": (_line("other-site.png", site="110105"), "site"),
    "bad-date.png": (_line("bad-date.png", doc_date="2019-02-30"), "doc_date"),
    "negative-pages.png": (_line("negative-pages.png", expected_pages="-3"), "expected_pages"),
    "control-chars.png": (_line("control-chars.png", name="张\x1b[2J三"), "name"),
    "bidi-category.png": (_line("bidi-category.png", dossier_category="养老\u202e保险"), "dossier_category"),
    "huge-pages.png": (_line("huge-pages.png", expected_pages="99999999999"), "expected_pages"),
}


def _write_manifest(path: Path, lines: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        w.writerows(lines)


def _hostile_batch(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "hot"
    badfiles.write(src, "good.png", badfiles.good_png())
    for shade, name in enumerate(HOSTILE, start=1):
        badfiles.write(src, name, badfiles.good_png(shade * 7))
    manifest = tmp_path / "manifest.csv"
    _write_manifest(manifest, [_line("good.png"), *(line for line, _ in HOSTILE.values())])
    return src, manifest


def test_hostile_manifest_rows_are_quarantined_on_both_databases(tmp_path: Path, catalog_url: str) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "杭州市西湖区", catalog_url=catalog_url)
    src, manifest = _hostile_batch(tmp_path)

    report = ingest_batch_local(settings, SITE, str(src), str(manifest))

    assert report.accepted_files == 1 and report.unaccounted == []
    got = {q.file: q.code for q in report.quarantined}
    assert got == dict.fromkeys(HOSTILE, "INGEST_MANIFEST_INVALID")
    problems = {(p.file, p.column) for p in report.manifest_problems}
    assert problems == {(name, column) for name, (_, column) in HOSTILE.items()}
    with session_scope(ref.catalog_url) as s:
        assert s.scalars(select(Person.resident_id)).all() == [RID]  # the good line's person only
        assert s.scalars(select(Master.original_name)).all() == ["good.png"]
        assert s.scalars(select(Document.source_file)).all() == ["good.png"]
        items = {q.source_file: q for q in s.scalars(select(QuarantineItem))}
        batch = s.scalars(select(ScanBatch)).one()
        assert batch.status == "complete"
    store = batch_mod._store(ref)
    for name, (_, column) in HOSTILE.items():
        q = items[name]
        assert q.details["column"] == column and q.details["reason"] and q.details["hint"]
        assert q.details["line"] == list(HOSTILE).index(name) + 3  # header, good line, then these
        assert store.get(q.object_key) == (src / name).read_bytes()  # the bytes are kept
    shown = report.model_dump_json() + json.dumps([q.details for q in items.values()], ensure_ascii=False)
    assert SQL_ID not in shown and "DROP TABLE" not in shown and LONG_NAME not in shown and "\x1b" not in shown

    again = ingest_batch_local(settings, SITE, str(src), str(manifest))  # a rerun: same result, batch closes
    assert {q.file: q.code for q in again.quarantined} == got
    assert again.accepted_files == 1 and again.unaccounted == []
    with session_scope(ref.catalog_url) as s:
        assert s.scalar(select(func.count()).select_from(QuarantineItem)) == len(HOSTILE)
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.scalars(select(ScanBatch.status)).all() == ["complete"]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("resident_id", "33010619800517012", "ID_FORMAT"),  # 17 characters
        ("resident_id", RID[:17] + ("0" if RID[17] != "0" else "1"), "ID_CHECK_DIGIT"),
        ("resident_id", "330106800517123", "ID_LEGACY_15"),
        ("site", "３３０１０６", "NOT_A_SITE_CODE"),
        ("site", "33010", "NOT_A_SITE_CODE"),
        ("name", "张三1", "CHARACTERS"),
        ("name", '=HYPERLINK("x")', "CHARACTERS"),
        ("retention", "forever", "NOT_ALLOWED"),
        ("form_type", "letter", "NOT_ALLOWED"),
        ("doc_date", "２０１９-０３-０１", "NOT_YYYY_MM_DD"),
        ("doc_date", "2999-01-01", "OUT_OF_RANGE"),
        ("expected_pages", "0", "OUT_OF_RANGE"),
        ("expected_pages", "３", "NOT_A_NUMBER"),
        ("operator", "王" * 101, "TOO_LONG"),
        ("dossier_category", "养" * 51, "TOO_LONG"),
    ],
)
def test_each_manifest_column_is_validated(column: str, value: str, reason: str) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER)
    w.writeheader()
    w.writerow(_line("a.png", **{column: value}))
    parsed = parse_manifest(buf.getvalue().encode(), site=SITE)
    assert parsed.rows == {}
    (problem,) = parsed.rejected["a.png"].problems
    assert (problem["column"], problem["reason"]) == (column, reason)


def test_a_good_line_and_a_shifted_or_conflicting_one() -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerow(list(_line("ok.png").values()))
    w.writerow(["shifted.png", SITE, RID, "张", "三", "养老保险", "30", "registration", "", "1", "王五"])  # 11 cells
    w.writerow(list(_line("twice.png").values()))
    w.writerow(list(_line("twice.png", name="李四").values()))  # whose document is it?
    parsed = parse_manifest(buf.getvalue().encode(), site=SITE)
    assert set(parsed.rows) == {"ok.png"} and parsed.rows["ok.png"].resident_id == RID
    assert {p["code"] for p in parsed.rejected["shifted.png"].problems} == {"MANIFEST_ROW_SHAPE"}
    assert "MANIFEST_CONFLICTING_LINES" in {p["code"] for p in parsed.rejected["twice.png"].problems}


@pytest.mark.parametrize("code", ["３３０１０６", "330106\n", "٣٣٠١٠٦"])  # full-width, trailing newline, Arabic-Indic
def test_site_codes_are_six_ascii_digits(tmp_path: Path, code: str) -> None:
    with pytest.raises(ValueError):
        validate_site_code(code)
    with pytest.raises(ConfigError):
        add_site(load_settings(data_dir=tmp_path / "data"), code, "x")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "cli"), "sites", "add", code, "--name", "x"])
    assert result.exit_code != 0 and "CONFIG_INVALID" in result.output
    assert validate_site_code(SITE) == SITE


def test_a_linked_folder_is_reported_not_skipped(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    src, elsewhere = tmp_path / "hot", tmp_path / "elsewhere"
    badfiles.write(src, "a.png", badfiles.good_png())
    badfiles.write(elsewhere, "b.png", badfiles.good_png(30))
    (src / "more").symlink_to(elsewhere, target_is_directory=True)

    report = ingest_batch_local(settings, SITE, str(src))

    assert [(q.file, q.code) for q in report.quarantined] == [("more", "PATH_UNSAFE")]
    assert report.accepted_files == 1 and report.unaccounted == []
    with session_scope(ref.catalog_url) as s:
        item = s.scalars(select(QuarantineItem)).one()
        assert item.details["kind"] == "folder_link" and item.details["hint"] and item.object_key is None
        assert s.scalars(select(Master.original_name)).all() == ["a.png"]  # nothing read through the link


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_csv_exports_escape_formula_cells() -> None:
    records = [
        {
            "document_id": i,
            "source_file": formula,
            "form_type": "registration",
            "doc_date": None,
            "status": "extracted",
            "fields": {"employer_name": formula, "address": "杭州市" + formula},
            "contributions": [],
            "validation": {"status": "ok", "reasons": [], "findings": [], "run_id": None},
        }
        for i, formula in enumerate(FORMULAS)
    ]
    out = io.StringIO()
    assert write_records(iter(records), out, fmt="csv") == len(FORMULAS)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [r["source_file"] for r in rows] == ["'" + f for f in FORMULAS]
    assert [r["employer_name"] for r in rows] == ["'" + f for f in FORMULAS]
    assert [r["address"] for r in rows] == ["杭州市" + f for f in FORMULAS]  # not at the start: left alone


def test_escaped_manifest_cells_read_back_as_written() -> None:
    """A manifest dangan writes (the sample generator) reads back unchanged through its escaping."""
    buf = io.StringIO()
    w = SafeDictWriter(buf, fieldnames=HEADER)
    w.writeheader()
    w.writerow(_line("-scan=1.png", operator="-王五"))
    assert "'-scan=1.png" in buf.getvalue()
    parsed = parse_manifest(buf.getvalue().encode(), site=SITE)
    assert list(parsed.rows) == ["-scan=1.png"] and parsed.rows["-scan=1.png"].operator == "-王五"


def test_two_ingests_of_one_folder_at_once_share_one_batch(tmp_path: Path, catalog_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "杭州市西湖区", catalog_url=catalog_url)
    src = tmp_path / "hot"
    for shade in range(3):
        badfiles.write(src, f"p{shade}.png", badfiles.good_png(shade * 20))

    # both ingests look for the batch before either creates one: the race, made certain
    barrier = threading.Barrier(2, timeout=60)
    real_find = batch_mod.find_batch
    looked = threading.local()

    def find_then_wait(s, site, key):  # type: ignore[no-untyped-def]
        found = real_find(s, site, key)
        if not getattr(looked, "once", False):
            looked.once = True
            barrier.wait()
        return found

    monkeypatch.setattr(batch_mod, "find_batch", find_then_wait)
    results: list[Any] = []

    def ingest() -> None:
        try:
            results.append(ingest_batch_local(settings, SITE, str(src)))
        except BaseException as exc:  # the assertion below names it
            results.append(exc)

    threads = [threading.Thread(target=ingest) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len({r.batch_id for r in results}) == 1
    with session_scope(ref.catalog_url) as s:
        assert s.scalar(select(func.count()).select_from(ScanBatch)) == 1
        assert s.scalar(select(func.count()).select_from(Master)) == 3
        assert s.scalars(select(ScanBatch.status)).one() == "complete"
    assert all(r.unaccounted == [] and r.accepted_files == 3 for r in results)


def test_migration_0010_keeps_the_newest_of_twin_open_batches(catalog_url: str) -> None:
    upgrade(catalog_url)
    command.downgrade(alembic_config(catalog_url), "0009")
    engine = get_engine(catalog_url)
    assert "uq_scan_batch_open_source" not in {i["name"] for i in inspect(engine).get_indexes("scan_batch")}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO site (code, name, created_at) VALUES ('330106', 'x', '2024-01-01')"))
        for batch_id, created in (("old", "2024-01-01"), ("new", "2024-01-02"), ("other", "2024-01-01")):
            conn.execute(
                text(
                    "INSERT INTO scan_batch (id, site_code, source, source_key, status, counts, report, created_at) "
                    "VALUES (:id, '330106', 'folder /x', :key, 'open', '{}', '{}', :at)"
                ),
                {"id": batch_id, "key": "k2" if batch_id == "other" else "k1", "at": created},
            )
    upgrade(catalog_url)
    with session_scope(catalog_url) as s:
        status = dict(s.execute(select(ScanBatch.id, ScanBatch.status)).tuples().all())
        assert status == {"old": "failed", "new": "open", "other": "open"}
        event = s.scalars(select(AuditEvent).filter_by(entity_id="old")).one()
        assert event.details["kept"] == "new"
    assert "uq_scan_batch_open_source" in {i["name"] for i in inspect(engine).get_indexes("scan_batch")}
