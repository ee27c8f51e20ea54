"""Creating the Great Expectations context says nothing at INFO (it ran on every validation, every run)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


def test_gx_context_logs_nothing_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from dangan.quality.runner import _context

    with caplog.at_level(logging.INFO):
        _context(tmp_path / "docs")
        _context(None)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("great_expectations")] == []
