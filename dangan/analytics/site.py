"""Aggregates over a site's (or a region's) contribution histories, computed by DuckDB over two Arrow tables.

Engine: the histories are merged in Python (:mod:`dangan.analytics.history`), laid out as two columnar tables,
``persons`` (one row a person) and ``months`` (one row a person-month: paid or documented gap, with the base),
and every aggregate is one SQL query over them in DuckDB. The same queries run on the 150 M-row tables of
``bench/analytics.py`` (generated straight into DuckDB), so the figures there are the figures of this code.
DuckDB's SQLite scanner would need an extension download, which an offline site cannot do; SQLAlchemy reads the
catalog instead (it also works on PostgreSQL catalogs).

Privacy: every count below ``min_cell`` persons (default 5) is suppressed (``None`` with ``suppressed: true``),
and so is a share whose denominator is below it. No person-level value leaves this module.

Warning lines (:class:`WarningLine`) compare a metric of the report with a threshold; each crossed line is
returned as an event (``dangan.analytics.warning``) for the flow to emit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from dangan.analytics.history import PAID, PersonHistory
from dangan.analytics.retirement import period_index, period_of

AGE_BANDS = ((16, 24), (25, 29), (30, 34), (35, 39), (40, 44), (45, 49), (50, 54), (55, 59), (60, 64), (65, 200))
#: contribution stages of retirees, by years paid (the minimum is 15 years, rising to 20)
STAGES = ((0, 180, "<15y"), (180, 240, "15-20y"), (240, 360, "20-30y"), (360, 10_000, "≥30y"))
BASE_BIN = 2000  # yuan per bin of the base histogram
GAP_LENGTHS = (3, 6, 12)
WINDOW = 24  # months looked back for gaps
HORIZON = 15  # years ahead for retirements


@dataclass(frozen=True)
class WarningLine:
    """A threshold on one metric of the report: ``metric`` ``op`` ``threshold`` raises an event."""

    name: str
    metric: str
    threshold: float
    op: str = ">"

    def crossed(self, value: float | None) -> bool:
        """True when ``value`` is known and beyond the line."""
        if value is None:
            return False
        return value > self.threshold if self.op == ">" else value < self.threshold


DEFAULT_WARNINGS = (
    WarningLine("gap-share-6m", "gap_share_6", 0.10),
    WarningLine("gap-share-12m", "gap_share_12", 0.05),
    WarningLine("minimum-unreachable", "minimum_unreachable_share", 0.02),
    WarningLine("retiring-next-year", "retiring_next_year_share", 0.05),
)


@dataclass(frozen=True)
class ReportConfig:
    """What a site report counts and how it protects small cells."""

    min_cell: int = 5
    warnings: tuple[WarningLine, ...] = DEFAULT_WARNINGS
    as_of: str | None = None  # default: the newest month of the data


PERSON_SCHEMA = pa.schema(
    [
        ("person_key", pa.int64()),
        ("site", pa.string()),
        ("sex", pa.string()),  # M / F
        ("birth", pa.int32()),  # month index
        ("retire", pa.int32()),  # month index of the statutory retirement
        ("min_months", pa.int32()),
        ("months_paid", pa.int32()),
        ("status", pa.string()),
    ]
)
MONTH_SCHEMA = pa.schema(
    [("person_key", pa.int64()), ("period", pa.int32()), ("paid", pa.bool_()), ("base", pa.float64())]
)


def history_tables(histories: Sequence[PersonHistory]) -> tuple[pa.Table, pa.Table]:
    """``persons`` and ``months`` tables of merged histories (persons without birth or sex are left out: no
    retirement date can be computed for them)."""
    people: dict[str, list[Any]] = {name: [] for name in PERSON_SCHEMA.names}
    months: dict[str, list[Any]] = {name: [] for name in MONTH_SCHEMA.names}
    for h in histories:
        if h.retirement is None or h.birth is None:
            continue
        key = int(h.site) * 10**9 + h.person_id  # unique across a region's sites
        row = (key, h.site, "M" if h.sex == "男" else "F", period_index(h.birth), period_index(h.retirement.month),
               h.retirement.min_contribution_months, h.months_paid, h.status)  # fmt: skip
        for name, value in zip(PERSON_SCHEMA.names, row, strict=True):
            people[name].append(value)
        for m in h.months:
            base = m.values.get("base")
            months["person_key"].append(key)
            months["period"].append(period_index(m.period))
            months["paid"].append(m.status == PAID)
            months["base"].append(float(base) if m.status == PAID and base else None)
    return pa.table(people, schema=PERSON_SCHEMA), pa.table(months, schema=MONTH_SCHEMA)


def connect(persons: pa.Table, months: pa.Table, *, threads: int = 2, memory_limit: str = "4GB") -> Any:
    """An in-memory DuckDB connection with ``persons`` and ``months`` registered as views over the Arrow tables."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.register("persons", persons)
    con.register("months", months)
    return con


def _band_sql(column: str) -> str:
    cases = " ".join(
        f"WHEN {column} BETWEEN {lo} AND {hi} THEN '{lo}-{hi if hi < 200 else ''}'" for lo, hi in AGE_BANDS
    )
    return f"CASE {cases} ELSE '<16' END"


def _stage_sql(column: str) -> str:
    cases = " ".join(f"WHEN {column} >= {lo} AND {column} < {hi} THEN '{name}'" for lo, hi, name in STAGES)
    return f"CASE {cases} END"


def _rows(con: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _suppress(
    rows: list[dict[str, Any]], min_cell: int, counts: Sequence[str], dependent: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Blank every count column below ``min_cell`` (and mark the row); a row whose first count is blanked also
    loses its ``dependent`` columns (a mean over three persons tells about those three)."""
    for row in rows:
        for name in counts:
            value = row.get(name)
            if value is not None and 0 < value < min_cell:
                row[name] = None
                row["suppressed"] = True
        if row.get(counts[0]) is None and row.get("suppressed"):
            for name in dependent:
                row[name] = None
    return rows


def site_report(con: Any, config: ReportConfig = ReportConfig(), *, sites: Sequence[str] = ()) -> dict[str, Any]:
    """Every aggregate of the site report, from a connection holding ``persons`` and ``months``."""
    as_of_i = (
        period_index(config.as_of) if config.as_of else con.execute("SELECT max(period) FROM months").fetchone()[0]
    )
    if as_of_i is None:
        return {"sites": list(sites), "as_of": None, "persons": 0, "empty": True, "warnings": []}
    k = config.min_cell
    lo = as_of_i - WINDOW + 1
    year = as_of_i // 12
    age = f"(({as_of_i} - p.birth) // 12)"
    totals = con.execute(
        f"""SELECT count(*) AS persons,
                   count(*) FILTER (WHERE status = 'active' AND retire > {as_of_i}) AS active,
                   count(*) FILTER (WHERE status = 'active' AND retire <= {as_of_i}) AS retired
            FROM persons"""
    ).fetchone()
    contributors = _rows(
        con,
        f"""WITH recent AS (SELECT DISTINCT person_key FROM months WHERE paid AND period > {as_of_i - 12}
                            AND period <= {as_of_i})
            SELECT {_band_sql(age)} AS band, p.sex, count(*) AS persons
            FROM persons p JOIN recent USING (person_key)
            WHERE p.status = 'active' AND p.retire > {as_of_i}
            GROUP BY ALL ORDER BY min({age}), p.sex""",
    )
    base_hist = _rows(
        con,
        f"""WITH latest AS (SELECT person_key, arg_max(base, period) AS base FROM months
                            WHERE paid AND base IS NOT NULL AND period > {as_of_i - 12} AND period <= {as_of_i}
                            GROUP BY person_key)
            SELECT CAST(floor(base / {BASE_BIN}) * {BASE_BIN} AS INTEGER) AS base_from, count(*) AS persons
            FROM latest GROUP BY ALL ORDER BY base_from""",
    )
    quantiles = con.execute(
        f"""WITH latest AS (SELECT person_key, arg_max(base, period) AS base FROM months
                            WHERE paid AND base IS NOT NULL AND period > {as_of_i - 12} AND period <= {as_of_i}
                            GROUP BY person_key)
            SELECT count(*), quantile_cont(base, [0.1, 0.25, 0.5, 0.75, 0.9]) FROM latest"""
    ).fetchone()
    trend = _rows(
        con,
        f"""SELECT period // 12 AS year, count(*) AS months_paid, count(DISTINCT person_key) AS persons,
                   round(avg(base), 2) AS mean_base, round(approx_quantile(base, 0.5), 2) AS median_base
            FROM months WHERE paid AND base IS NOT NULL AND period > {as_of_i - 12 * HORIZON} AND period <= {as_of_i}
            GROUP BY ALL ORDER BY year""",
    )
    gap_counts = ", ".join(f"count(*) FILTER (WHERE longest >= {n}) AS gap_{n}" for n in GAP_LENGTHS)
    gap_sql = f"""
        WITH w AS (SELECT person_key, period, paid FROM months WHERE period >= {lo} AND period <= {as_of_i}),
        runs AS (SELECT person_key, period - row_number() OVER (PARTITION BY person_key ORDER BY period) AS grp
                 FROM w WHERE NOT paid),
        longest AS (SELECT person_key, max(n) AS longest FROM
                    (SELECT person_key, grp, count(*) AS n FROM runs GROUP BY ALL) GROUP BY person_key),
        scope AS (SELECT DISTINCT person_key FROM w)
        SELECT count(*) AS persons, {gap_counts}
        FROM scope LEFT JOIN longest USING (person_key)"""
    gap_row = _rows(con, gap_sql)[0]
    retiring = _rows(
        con,
        f"""SELECT retire // 12 AS year, sex, count(*) AS persons,
                   count(*) FILTER (WHERE months_paid + (retire - {as_of_i}) < min_months) AS minimum_unreachable
            FROM persons WHERE status = 'active' AND retire > {as_of_i} AND retire // 12 <= {year + HORIZON}
            GROUP BY ALL ORDER BY year, sex""",
    )
    unreachable = con.execute(
        f"""SELECT count(*) FILTER (WHERE months_paid + (retire - {as_of_i}) < min_months), count(*)
            FROM persons WHERE status = 'active' AND retire > {as_of_i}"""
    ).fetchone()
    retirees = _rows(
        con,
        f"""SELECT {_band_sql(age)} AS band, {_stage_sql("months_paid")} AS stage, count(*) AS persons
            FROM persons p WHERE status = 'active' AND retire <= {as_of_i}
            GROUP BY ALL ORDER BY min({age}), min(months_paid)""",
    )

    def share(part: int | None, whole: int | None) -> float | None:
        return None if not whole or whole < k or part is None else round(part / whole, 4)

    gaps = {
        "window": [period_of(lo), period_of(as_of_i)],
        "persons": gap_row["persons"] if gap_row["persons"] >= k else None,
        **{f"gap_share_{n}": share(gap_row[f"gap_{n}"], gap_row["persons"]) for n in GAP_LENGTHS},
    }
    next_year = sum(r["persons"] for r in retiring if r["year"] == year + 1)
    metrics: dict[str, float | None] = {
        **{f"gap_share_{n}": share(gap_row[f"gap_{n}"], gap_row["persons"]) for n in GAP_LENGTHS},
        "minimum_unreachable_share": share(unreachable[0], unreachable[1]),
        "retiring_next_year_share": share(next_year, totals[1]),
    }
    warnings = [
        {"event": "dangan.analytics.warning", "line": w.name, "metric": w.metric, "value": metrics.get(w.metric),
         "op": w.op, "threshold": w.threshold}
        for w in config.warnings
        if w.crossed(metrics.get(w.metric))
    ]  # fmt: skip
    count_n, qs = quantiles
    return {
        "sites": list(sites),
        "as_of": period_of(as_of_i),
        "min_cell": k,
        "persons": totals[0],
        "active": totals[1],
        "retired": totals[2],
        "contributors": _suppress(contributors, k, ["persons"]),
        "base": {
            "bin": BASE_BIN,
            "histogram": _suppress(base_hist, k, ["persons"]),
            "quantiles": dict(zip(("p10", "p25", "p50", "p75", "p90"), [round(q, 2) for q in qs], strict=True))
            if count_n >= k and qs
            else None,
            "trend": _suppress(trend, k, ["persons"], ["months_paid", "mean_base", "median_base"]),
        },
        "gaps": gaps,
        "retiring": _suppress(retiring, k, ["persons", "minimum_unreachable"]),
        "retirees": _suppress(retirees, k, ["persons"]),
        "metrics": metrics,
        "warnings": warnings,
    }


def report_for_histories(
    histories: Sequence[PersonHistory], sites: Sequence[str], config: ReportConfig = ReportConfig()
) -> dict[str, Any]:
    """Build the tables, run the report, close the connection."""
    persons, months = history_tables(histories)
    con = connect(persons, months)
    try:
        return site_report(con, config, sites=sites)
    finally:
        con.close()


def region_sites(settings: Any, site: str | None = None, region: str | None = None) -> list[Any]:
    """The registered sites a report covers: one ``site``, or every site whose code starts with ``region``
    (``33`` a province, ``3301`` a city). Each site is read from its own catalog."""
    from dangan.catalog.sites import get_site, list_sites
    from dangan.errors import SiteNotFound

    if site:
        return [get_site(settings, site)]
    chosen = [s for s in list_sites(settings) if region and s.code.startswith(region)]
    if not chosen:
        raise SiteNotFound(f"no registered site in region {region!r}", region=region)
    return chosen


def build_report(
    settings: Any, site: str | None = None, region: str | None = None, config: ReportConfig = ReportConfig()
) -> dict[str, Any]:
    """The report of one site or a region, read from the sites' catalogs."""
    from dangan.analytics.history import load_histories

    refs = region_sites(settings, site, region)
    histories = [h for ref in refs for h in load_histories(ref.catalog_url, ref.code)]
    return report_for_histories(histories, [ref.code for ref in refs], config)
