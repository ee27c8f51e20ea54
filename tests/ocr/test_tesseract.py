"""Tesseract engine: reads Chinese (loosely), groups words into lines, explains missing installs."""

from __future__ import annotations

import numpy as np
import pytest

from dangan.errors import OcrEngineUnavailable
from dangan.ocr import OcrOptions, create_engine
from dangan.ocr.engines.options import TesseractOptions
from dangan.ocr.engines.tesseract import TesseractEngine, group_lines, join_words
from tests.ocr.pages import FORM_LINES, cer, squash


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    eng = create_engine(OcrOptions(engine="tesseract"))
    assert isinstance(eng, TesseractEngine)
    return eng


def test_reads_chinese_form(engine, form_image):
    [page] = engine.recognize([form_image])
    assert page.error is None
    assert cer(squash("".join(FORM_LINES)), squash(page.text())) <= 0.15, page.text()
    assert "姓名" in page.text()
    assert len(page.lines) == 3
    assert all(0.0 <= line.confidence <= 1.0 and len(line.box) == 4 for line in page.lines)
    ident = engine.identity()
    assert ident.model.startswith("tesseract ") and "chi_sim psm3" in ident.model
    assert "chi_sim.traineddata" in ident.model_sha256
    assert page.device == "cpu"


def test_bad_page_does_not_fail_batch(engine, form_image):
    results = engine.recognize([None, form_image[:150]])
    assert results[0].error is not None and results[0].error.startswith("OCR_EMPTY_IMAGE")
    assert results[1].error is None and "姓名" in results[1].text()


def test_join_words_spaces_only_between_latin_and_digits():
    assert join_words(["缴费", "基数", "15,380.00"]) == "缴费基数15,380.00"
    assert join_words(["Social", "Security", "2019"]) == "Social Security 2019"
    assert join_words(["编号", "AB", "12"]) == "编号AB 12"


def test_group_lines_by_block_par_line():
    data = {
        "level": [5, 5, 5, 5, 4],
        "block_num": [1, 1, 1, 2, 1],
        "par_num": [1, 1, 1, 1, 1],
        "line_num": [1, 1, 2, 1, 1],
        "left": [100, 10, 10, 10, 0],
        "top": [5, 6, 50, 90, 0],
        "width": [40, 80, 50, 30, 200],
        "height": [20, 22, 20, 20, 100],
        "conf": [90, 70, -1, 50, -1],
        "text": ["张三", "姓名：", "男", "  ", ""],
    }
    lines = group_lines(data)
    assert [line.text for line in lines] == ["姓名：张三", "男"]
    assert lines[0].confidence == pytest.approx(0.8)
    assert lines[0].box == ((10.0, 5.0), (140.0, 5.0), (140.0, 28.0), (10.0, 28.0))
    assert lines[1].confidence == 0.0


def test_missing_binary_names_the_packages(monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(OcrEngineUnavailable) as info:
        TesseractEngine()
    assert "apt-get install tesseract-ocr tesseract-ocr-chi-sim" in str(info.value)


def test_missing_language_names_the_packages(monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": ["eng", "osd"])
    with pytest.raises(OcrEngineUnavailable, match="chi_sim") as info:
        TesseractEngine(TesseractOptions(lang="chi_sim+eng"))
    assert "tesseract-ocr-chi-sim" in str(info.value)


def test_blank_page_has_no_lines(engine):
    [page] = engine.recognize([np.full((200, 300), 255, np.uint8)])
    assert page.error is None and page.lines == []


def test_dpi_estimated_from_page_size() -> None:
    from dangan.ocr.engines.tesseract import estimate_dpi

    assert estimate_dpi(2480, 3508) == 300  # A4 at 300 dpi
    assert estimate_dpi(1654, 2339) == 200
    assert estimate_dpi(10, 10) == 70  # tiny crops: Tesseract's floor


def test_each_page_runs_single_threaded_and_a_failing_run_is_a_page_error(form_image, tmp_path) -> None:
    """Tesseract runs with OMP_THREAD_LIMIT=1 (pages run side by side instead); an exit code fails that page."""
    seen = tmp_path / "seen"
    fake = tmp_path / "tesseract"
    fake.write_text(f'#!/bin/sh\necho "$OMP_THREAD_LIMIT" >> {seen}\necho "broken traineddata" >&2\nexit 3\n')
    fake.chmod(0o755)
    engine = TesseractEngine(TesseractOptions(workers=2))
    engine._cmd = str(fake)
    results = engine.recognize([form_image, form_image, None])
    assert [r.error.split(":")[0] if r.error else None for r in results] == [
        "OCR_PAGE_FAILED",
        "OCR_PAGE_FAILED",
        "OCR_EMPTY_IMAGE",
    ]
    assert "exited 3" in (results[0].error or "") and seen.read_text().split() == ["1", "1"]
