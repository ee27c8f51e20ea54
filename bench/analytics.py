"""Contribution analytics at scale: N synthetic persons × their monthly histories, generated straight into DuckDB
(no images, no OCR), then the site report (the same SQL as ``dangan analytics``) and person reports timed.

Careers: birth 1960–2000, first contribution at 18–26 (records from 1995 on, as in the archives), paying until
the reference month or retirement; about 3% of months missed at random, and one person in ten has a 3–14 month
break (断保) before resuming; the base starts between 3,000 and 25,000 yuan and rises about 5% a year.
Prints one JSON line: rows, seconds, peak RSS, and the ratio of each figure to its target
(site report ≤ 60 s, person report ≤ 50 ms).

    .venv/bin/python bench/analytics.py --persons 100000
    .venv/bin/python bench/analytics.py --persons 1000000 --db /tmp/analytics.duckdb
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from dangan.analytics.history import GAP, PAID, Month, find_gaps
from dangan.analytics.retirement import RetirementGroup, period_index, period_of, statutory_retirement
from dangan.analytics.site import ReportConfig, site_report

AS_OF = "2024-09"
SITE_TARGET_S, PERSON_TARGET_MS = 60.0, 50.0


def generate(con: duckdb.DuckDBPyConnection, persons: int) -> int:
    """Create ``persons`` and ``months`` in ``con``; returns the number of month rows."""
    as_of = period_index(AS_OF)
    # retirement month by the reform's rule in SQL (men 60→63, women workers 50→55), checked against Python below
    con.execute(
        f"""CREATE TABLE persons AS
        WITH base AS (
          SELECT i AS person_key, CASE WHEN hash(i, 1) % 2 = 0 THEN 'M' ELSE 'F' END AS sex,
                 {period_index("1960-01")} + CAST(hash(i, 2) % 492 AS INTEGER) AS birth,
                 CAST(216 + hash(i, 3) % 96 AS INTEGER) AS start_age,
                 3000 + CAST(hash(i, 4) % 22000 AS INTEGER) AS base0
          FROM range({persons}) t(i)),
        rule AS (
          SELECT *, CASE WHEN sex = 'M' THEN
                   720 + CASE WHEN birth < {period_index("1965-01")} THEN 0
                              ELSE least(36, (birth - {period_index("1965-01")}) // 4 + 1) END
                 ELSE 600 + CASE WHEN birth < {period_index("1975-01")} THEN 0
                              ELSE least(60, (birth - {period_index("1975-01")}) // 2 + 1) END END AS age
          FROM base)
        SELECT person_key, '330106' AS site, sex, CAST(birth AS INTEGER) AS birth,
               CAST(birth + age AS INTEGER) AS retire,
               CAST(greatest(birth + start_age, {period_index("1995-01")}) AS INTEGER) AS first_month,
               CAST(least({as_of}, birth + age) AS INTEGER) AS last_month, base0,
               CASE WHEN hash(person_key, 5) % 10 = 0 THEN CAST(3 + hash(person_key, 6) % 12 AS INTEGER) ELSE 0
               END AS break_len,
               CAST(hash(person_key, 7) % 1000 AS INTEGER) / 1000.0 AS break_at,
               CASE WHEN (birth + age) // 12 < 2030 THEN 180 ELSE least(240, 180 + 6 * ((birth + age) // 12 - 2029))
               END AS min_months, 'active' AS status
        FROM rule WHERE birth + start_age <= {as_of}"""
    )
    con.execute(
        f"""CREATE TABLE months AS
        WITH m AS (SELECT person_key, unnest(generate_series(first_month, last_month)) AS period, first_month,
                          last_month, break_len, break_at, base0 FROM persons)
        SELECT person_key, CAST(period AS INTEGER) AS period,
               NOT (hash(person_key, period) % 100 < 3
                    OR (break_len > 0 AND period >= first_month + CAST((last_month - first_month) * break_at AS INTEGER)
                        AND period < first_month + CAST((last_month - first_month) * break_at AS INTEGER) + break_len
                        AND period < last_month)) AS paid,
               round(base0 * pow(1.05, (period - {as_of}) / 12.0), 0) AS base
        FROM m ORDER BY person_key, period"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE persons AS
        SELECT p.person_key, p.site, p.sex, p.birth, p.retire, CAST(p.min_months AS INTEGER) AS min_months,
               CAST(coalesce(c.paid, 0) AS INTEGER) AS months_paid, p.status
        FROM persons p LEFT JOIN (SELECT person_key, count(*) FILTER (WHERE paid) AS paid FROM months GROUP BY 1) c
        USING (person_key) ORDER BY person_key"""
    )
    con.execute("UPDATE months SET base = NULL WHERE NOT paid")
    return int(con.execute("SELECT count(*) FROM months").fetchone()[0])  # type: ignore[index]


def person_report(con: duckdb.DuckDBPyConnection, person_key: int) -> dict[str, object]:
    """One person's history from the tables: months, gaps, months paid, statutory retirement."""
    sex, birth, paid = con.execute(
        "SELECT sex, birth, months_paid FROM persons WHERE person_key = ?", [person_key]
    ).fetchone()  # type: ignore[misc]
    rows = con.execute(
        "SELECT period, paid, base FROM months WHERE person_key = ? ORDER BY period", [person_key]
    ).fetchall()
    months = [Month(period_of(p), PAID if ok else GAP, {"base": None if b is None else str(b)}) for p, ok, b in rows]
    group = RetirementGroup.MALE if sex == "M" else RetirementGroup.FEMALE_WORKER
    retirement = statutory_retirement(group, birth // 12, birth % 12 + 1)
    return {
        "months": len(months),
        "months_paid": paid,
        "gaps": [g.to_json() for g in find_gaps(months)],
        "retirement": retirement.to_json(),
        "months_still_to_pay": max(0, retirement.min_contribution_months - paid),
    }


def main() -> None:
    """Generate, report, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="DuckDB file (default: a temporary one)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--samples", type=int, default=50, help="person reports timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "analytics.duckdb"
        if path.exists():
            path.unlink()
        con = duckdb.connect(str(path), config={"threads": args.threads, "memory_limit": args.memory_limit,
                                                "temp_directory": str(Path(tmp) / "spill")})  # fmt: skip
        started = time.perf_counter()
        rows = generate(con, args.persons)
        generate_s = time.perf_counter() - started
        # the SQL rule above must agree with dangan.analytics.retirement
        for key, sex, birth, retire in con.execute(
            "SELECT person_key, sex, birth, retire FROM persons USING SAMPLE 200 ROWS"
        ).fetchall():
            group = RetirementGroup.MALE if sex == "M" else RetirementGroup.FEMALE_WORKER
            expected = statutory_retirement(group, birth // 12, birth % 12 + 1).month
            assert period_of(retire) == expected, (key, period_of(retire), expected)
        started = time.perf_counter()
        report = site_report(con, ReportConfig(as_of=AS_OF), sites=["330106"])
        site_s = time.perf_counter() - started
        keys = [
            k for (k,) in con.execute(f"SELECT person_key FROM persons USING SAMPLE {args.samples} ROWS").fetchall()
        ]
        random.Random(0).shuffle(keys)
        timings = []
        for key in keys:
            t0 = time.perf_counter()
            person_report(con, key)
            timings.append((time.perf_counter() - t0) * 1000)
        con.close()
        db_mb = path.stat().st_size / 2**20
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    person_ms = statistics.median(timings)
    print(
        json.dumps(
            {
                "bench": "analytics",
                "engine": f"duckdb {duckdb.__version__}",
                "persons": args.persons,
                "month_rows": rows,
                "threads": args.threads,
                "generate_s": round(generate_s, 1),
                "site_report_s": round(site_s, 2),
                "site_report_vs_target": round(site_s / SITE_TARGET_S, 3),
                "person_report_ms_median": round(person_ms, 2),
                "person_report_ms_p95": round(sorted(timings)[int(len(timings) * 0.95) - 1], 2),
                "person_report_vs_target": round(person_ms / PERSON_TARGET_MS, 3),
                "peak_rss_mb": round(peak_mb),
                "db_mb": round(db_mb),
                "gap_share_6": report["metrics"]["gap_share_6"],
                "warnings": [w["line"] for w in report["warnings"]],
            }
        )
    )


if __name__ == "__main__":
    main()
