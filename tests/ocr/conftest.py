"""Shared OCR fixtures (engines are built once per session: model loading is the slow part)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ocr.pages import form_page


@pytest.fixture(scope="session")
def ppocr_engine():
    from dangan.ocr.ppocr import PpOcrEngine

    return PpOcrEngine(device="auto", threads=2)


@pytest.fixture(scope="session")
def form_image() -> np.ndarray:
    return form_page()
