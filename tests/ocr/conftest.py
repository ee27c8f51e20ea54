"""Shared OCR fixtures (engines are built once per session: model loading is the slow part)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ocr.pages import form_page


@pytest.fixture(scope="session")
def ppocr_engine():
    from dangan.ocr.engines.options import PpOcrOptions
    from dangan.ocr.engines.ppocr import PpOcrEngine

    # the production options (detection at 1280 px, crops padded to 160 px), not the constructor's PP-OCR defaults
    return PpOcrEngine.from_options(PpOcrOptions(device="auto", threads=2))


@pytest.fixture(scope="session")
def form_image() -> np.ndarray:
    return form_page()
