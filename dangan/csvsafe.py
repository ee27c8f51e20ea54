"""CSV cells that a spreadsheet will not run: formula injection (CWE-1236) escaped in every CSV dangan writes.

Excel, WPS and LibreOffice treat a cell starting with ``=``, ``+``, ``-`` or ``@`` as a formula (tab and CR
lead the same way after trimming); a value read from a scan, a manifest or a file name can start that way and
would run on the archive room's workstation (``=HYPERLINK(...)``, ``=cmd|...``). Such a cell is written with a
leading ``'``, which spreadsheets show as text and hide. :func:`unescape_cell` undoes it for dangan's own
readers (the batch manifest), so a round trip keeps the value.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """``value`` prefixed with ``'`` when it is text a spreadsheet would read as a formula; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo :func:`escape_cell` (a ``'`` followed by a formula start); other text unchanged."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose cells (the header's too: ``writeheader`` calls ``writerow``) are escaped.

    A row with a line break inside a cell is written with every cell quoted: with ``lineterminator="\\n"`` the
    csv module (3.11) leaves a cell holding a bare CR unquoted, and a reader would split the row there (a forged
    extra row). Other rows are written as ``csv.DictWriter`` writes them.
    """

    def __init__(self, f: Any, fieldnames: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(f, fieldnames, *args, **kwargs)
        self._quoted = csv.writer(f, self.writer.dialect, quoting=csv.QUOTE_ALL)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        row = {k: escape_cell(v) for k, v in rowdict.items()}
        if any(isinstance(v, str) and ("\r" in v or "\n" in v) for v in row.values()):
            extra = set(row) - set(self.fieldnames)
            if extra and self.extrasaction == "raise":  # as DictWriter does
                raise ValueError(f"dict contains fields not in fieldnames: {', '.join(map(repr, sorted(extra)))}")
            return self._quoted.writerow([row.get(name, self.restval) for name in self.fieldnames])
        return super().writerow(row)

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:  # DictWriter.writerows would bypass writerow
            self.writerow(row)
