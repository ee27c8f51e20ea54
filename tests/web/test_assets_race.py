"""Data Docs are localized while another validation may rebuild them: a page that vanishes is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangan.web.assets import localize_tree

CDN = '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@4.3.1/dist/css/bootstrap.min.css">'


def test_a_page_removed_by_a_concurrent_build_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept, gone = tmp_path / "index.html", tmp_path / "validations" / "run.html"
    gone.parent.mkdir()
    for page in (kept, gone):
        page.write_text(f"<html><head>{CDN}</head></html>", encoding="utf-8")
    real = Path.read_text

    def racing(self: Path, *args: object, **kwargs: object) -> str:
        if self == gone:
            self.unlink()  # the other build removed it between the listing and the read
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", racing)
    localize_tree(tmp_path)
    assert "cdn.jsdelivr" not in kept.read_text(encoding="utf-8") and not gone.exists()
    assert not list(tmp_path.rglob("*.localizing"))
