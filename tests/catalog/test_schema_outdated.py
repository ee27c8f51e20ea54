"""A catalog whose schema lags the code fails at once with a code that says to upgrade, instead of being
retried as an unavailable database (it used to cost three retries and end CATALOG_UNAVAILABLE)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dangan.catalog.db import session_scope
from dangan.errors import CatalogSchemaOutdated, is_transient


@pytest.mark.parametrize("sql", ["SELECT code FROM site", "SELECT missing_column FROM t"])
def test_missing_table_or_column_is_permanent(tmp_path: Path, sql: str) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with session_scope(url) as s:
        s.execute(text("CREATE TABLE t (id INTEGER)"))
    with pytest.raises(CatalogSchemaOutdated) as info, session_scope(url) as s:
        s.execute(text(sql))
    assert not is_transient(info.value) and "dangan init" in (info.value.hint or "")
