"""Charts of a site report, rendered on the server (matplotlib, Agg): PNG and SVG, every bar labelled with its
number, plus a CSV of the numbers behind each chart (XLSX when openpyxl is installed).

Chinese labels need a CJK font: the Noto Sans CJK (or WenQuanYi) file found by ``fc-list`` is registered with
matplotlib; nothing is downloaded. Suppressed cells (< ``min_cell`` persons) are drawn as 0 and labelled ``<k``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dangan.csvsafe import SafeDictWriter

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei")


@dataclass(frozen=True)
class Chart:
    """One rendered chart and the rows it shows."""

    name: str
    title: str
    png: bytes
    svg: bytes
    rows: list[dict[str, Any]]

    def csv(self) -> str:
        """The rows as CSV (formula-looking cells escaped)."""
        out = io.StringIO()
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        writer = SafeDictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI (for markdown artifacts)."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


@cache
def cjk_font() -> str | None:
    """Path of a CJK font file on this machine (``fc-list``), registered with matplotlib; None when there is none."""
    from matplotlib import font_manager

    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "file", "family"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found: dict[str, str] = {}
    for line in listing.splitlines():
        path, _, families = line.partition(":")
        for family in CJK_FAMILIES:
            if family in families and "Bold" not in path:
                found.setdefault(family, path.strip())
    for family in CJK_FAMILIES:
        if family in found:
            font_manager.fontManager.addfont(found[family])
            return family
    return None


def _figure(title: str) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    family = cjk_font()
    if family:
        plt.rcParams["font.family"] = [family]
    plt.rcParams["svg.fonttype"] = "none"  # text stays text in the SVG (searchable, small)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=90)
    ax.set_title(title)
    return fig, ax


def _render(fig: Any) -> tuple[bytes, bytes]:
    from matplotlib import pyplot as plt

    fig.tight_layout()
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", metadata={"Software": None})
    fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    return png.getvalue(), svg.getvalue()


def _labels(ax: Any, bars: Any, values: Sequence[Any], k: int, fmt: str = "{}") -> None:
    ax.bar_label(bars, labels=[f"<{k}" if v is None else fmt.format(v) for v in values], fontsize=8, padding=2)


def _bar(name: str, title: str, rows: list[dict[str, Any]], x: str, y: str, k: int, xlabel: str) -> Chart:
    fig, ax = _figure(title)
    values = [r[y] for r in rows]
    bars = ax.bar([str(r[x]) for r in rows], [v or 0 for v in values], color="#3b6ea5")
    _labels(ax, bars, values, k)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    png, svg = _render(fig)
    return Chart(name, title, png, svg, rows)


def render_charts(report: dict[str, Any]) -> list[Chart]:
    """Every aggregate of ``report`` (:func:`dangan.analytics.site.site_report`) as a chart."""
    k = report["min_cell"]
    charts = []
    # population pyramid: men to the left, women to the right
    bands = list(dict.fromkeys(r["band"] for r in report["contributors"]))
    by = {(r["band"], r["sex"]): r["persons"] for r in report["contributors"]}
    fig, ax = _figure("参保缴费人员年龄结构 (contributors by age band and sex)")
    men = [by.get((b, "M")) for b in bands]
    women = [by.get((b, "F")) for b in bands]
    left = ax.barh(bands, [-(v or 0) for v in men], color="#3b6ea5", label="男 M")
    right = ax.barh(bands, [v or 0 for v in women], color="#c0504d", label="女 F")
    _labels(ax, left, men, k)
    _labels(ax, right, women, k)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.legend()
    png, svg = _render(fig)
    rows = [{"band": b, "men": m, "women": w} for b, m, w in zip(bands, men, women, strict=True)]
    charts.append(Chart("contributors", "contributors by age band and sex", png, svg, rows))
    base = report["base"]
    charts.append(
        _bar("base_histogram", f"缴费基数分布 (base, bins of {base['bin']} yuan)", base["histogram"], "base_from",
             "persons", k, "base from (yuan)")
    )  # fmt: skip
    fig, ax = _figure("缴费基数趋势 (mean and median base by year)")
    shown = [r for r in base["trend"] if r["mean_base"] is not None]
    years = [r["year"] for r in shown]
    ax.plot(years, [r["mean_base"] for r in shown], marker="o", label="mean")
    ax.plot(years, [r["median_base"] for r in shown], marker="s", label="median")
    for r in shown:
        ax.annotate(f"{r['mean_base']:.0f}", (r["year"], r["mean_base"]), fontsize=7, textcoords="offset points",
                    xytext=(0, 5), ha="center")  # fmt: skip
    ax.legend()
    png, svg = _render(fig)
    charts.append(Chart("base_trend", "base trend", png, svg, base["trend"]))
    gaps = report["gaps"]
    gap_rows = [{"gap_months_at_least": n, "share": gaps[f"gap_share_{n}"]} for n in (3, 6, 12)]
    fig, ax = _figure(f"断保人员占比 (share with a gap, {gaps['window'][0]} – {gaps['window'][1]})")
    shares = [r["share"] for r in gap_rows]
    bars = ax.bar([f"≥{r['gap_months_at_least']}m" for r in gap_rows], [s or 0 for s in shares], color="#9bbb59")
    ax.bar_label(bars, labels=["suppressed" if s is None else f"{s:.1%}" for s in shares], fontsize=8)
    png, svg = _render(fig)
    charts.append(Chart("gaps", "share of persons with a gap in the last 24 months", png, svg, gap_rows))
    years_r = sorted({r["year"] for r in report["retiring"]})
    per_year = [
        {"year": y, **{s: next((r["persons"] for r in report["retiring"] if r["year"] == y and r["sex"] == s), 0)
                       for s in ("M", "F")}}
        for y in years_r
    ]  # fmt: skip
    fig, ax = _figure("未来15年达到法定退休年龄人数 (reaching retirement age per year)")
    m_bars = ax.bar([str(y) for y in years_r], [r["M"] or 0 for r in per_year], color="#3b6ea5", label="男 M")
    f_bars = ax.bar([str(y) for y in years_r], [r["F"] or 0 for r in per_year], bottom=[r["M"] or 0 for r in per_year],
                    color="#c0504d", label="女 F")  # fmt: skip
    _labels(ax, m_bars, [r["M"] for r in per_year], k)
    _labels(ax, f_bars, [r["F"] for r in per_year], k)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.legend()
    png, svg = _render(fig)
    charts.append(Chart("retiring", "persons reaching retirement age per year", png, svg, report["retiring"]))
    retirees = [{"group": f"{r['band']} {r['stage']}", **r} for r in report["retirees"]]
    charts.append(
        _bar("retirees", "退休人员年龄与缴费年限 (retirees by age band and years paid)", retirees, "group", "persons",
             k, "age band, years paid")
    )  # fmt: skip
    return charts


def write_outputs(report: dict[str, Any], charts: Sequence[Chart], out_dir: Path) -> list[Path]:
    """Write ``report.json`` and, per chart, PNG, SVG and CSV (and one XLSX when openpyxl is importable)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json"]
    written[0].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    for chart in charts:
        for ext, data in (("png", chart.png), ("svg", chart.svg)):
            path = out_dir / f"{chart.name}.{ext}"
            path.write_bytes(data)
            written.append(path)
        path = out_dir / f"{chart.name}.csv"
        path.write_text(chart.csv(), encoding="utf-8")
        written.append(path)
    try:
        import openpyxl  # optional: not a dependency
    except ImportError:
        return written
    book = openpyxl.Workbook()
    book.remove(book.active)
    for chart in charts:
        sheet = book.create_sheet(chart.name[:31])
        for row in csv.reader(io.StringIO(chart.csv())):
            sheet.append(row)
    path = out_dir / "report.xlsx"
    book.save(path)
    written.append(path)
    return written


def markdown(report: dict[str, Any], charts: Sequence[Chart], *, images: bool = True) -> str:
    """A markdown page: headline figures, warnings, and each chart (``data:`` PNG) with its numbers beside it."""
    sites = ", ".join(report["sites"]) or "—"
    lines = [
        f"# Contribution analytics — {sites}, as of {report['as_of']}\n",
        f"{report['persons']} persons · {report['active']} contributing age · {report['retired']} past the statutory "
        f"age · cells under {report['min_cell']} persons suppressed\n",
    ]
    if report["warnings"]:
        lines.append("**Warning lines crossed:** " + "; ".join(
            f"`{w['line']}` {w['metric']} = {w['value']} {w['op']} {w['threshold']}" for w in report["warnings"]
        ) + "\n")  # fmt: skip
    for chart in charts:
        lines.append(f"## {chart.title}\n")
        if images:
            lines.append(f"![{chart.name}]({chart.data_uri()})\n")
        columns = list(dict.fromkeys(k for row in chart.rows for k in row))
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in chart.rows:
            lines.append("| " + " | ".join("—" if row.get(c) is None else str(row.get(c)) for c in columns) + " |")
        lines.append("")
    return "\n".join(lines)
