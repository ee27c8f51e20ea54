"""Ruled-table rows (contribution records) read below a header row whose cells are vocabulary labels.

Columns are the header cells' centres; a body cell belongs to the column with the nearest centre (amounts are
right-aligned and overhang their header). Body rows are read until a row holds a label (the summary lines
under the table) or fewer than two cells; a continuation page repeats the header and the rows go on.
"""

from __future__ import annotations

from collections.abc import Sequence

from dangan.extract.fields import is_label
from dangan.extract.geometry import Item, quad_box, rows, union_box
from dangan.extract.model import ContributionRow
from dangan.extract.normalize import normalize_value
from dangan.extract.vocab import TableSpec, label_key

MIN_CELLS = 2


def _header(row: list[Item], table: TableSpec) -> dict[str, Item] | None:
    found: dict[str, Item] = {}
    for item in row:
        column = table.column_of(item.text)
        if column and column not in found:
            found[column] = item
    return found if len(found) >= table.min_header_columns else None


def _assign(row: list[Item], header: dict[str, Item]) -> dict[str, list[Item]]:
    centres = sorted((item.cx, column) for column, item in header.items())
    cells: dict[str, list[Item]] = {}
    for item in row:
        column = min(centres, key=lambda c: abs(c[0] - item.cx))[1]
        cells.setdefault(column, []).append(item)
    return cells


def _row(cells: dict[str, list[Item]], table: TableSpec, page: int) -> ContributionRow:
    values: dict[str, str | None] = {}
    flags: dict[str, tuple[str, ...]] = {}
    for column in table.columns:
        items = cells.get(column, [])
        norm = normalize_value(table.kinds.get(column, "text"), " ".join(i.text for i in items) if items else None)
        values[column] = norm.value
        if norm.flags:
            flags[column] = norm.flags
    items = [i for group in cells.values() for i in group]
    box = union_box(quad_box(i) for i in items)
    return ContributionRow(values, min(i.confidence for i in items), box, page, flags)


def extract_table(
    pages: Sequence[Sequence[Item]], table: TableSpec, all_labels: frozenset[str]
) -> list[ContributionRow]:
    """All body rows of ``table`` on the document's pages, in page and row order."""
    header_labels = {lb for labels in table.columns.values() for lb in labels}
    stop_labels = frozenset(lb for lb in all_labels if lb not in header_labels)
    out: list[ContributionRow] = []
    for page in pages:
        header: dict[str, Item] | None = None
        for row in rows(page):
            found = _header(row, table)
            if found:
                header = found
                continue
            if header is None:
                continue
            if any(is_label(i, stop_labels) for i in row) or any(label_key(i.text) in header_labels for i in row):
                header = None
                continue
            cells = _assign(row, header)
            if len(cells) < MIN_CELLS:
                header = None
                continue
            out.append(_row(cells, table, page[0].page if page else 0))
    return out
