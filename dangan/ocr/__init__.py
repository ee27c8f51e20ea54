"""OCR engines behind one contract: numpy page images in, ``PageResult`` (lines, boxes, provenance) out.

``create_engine(OcrOptions(...))`` builds an engine by name (``ppocr``, ``tesseract``, ``null``, ``fault``
or any ``register_engine``-ed one). Heavy engine modules load only when their engine is created.
"""

from dangan.ocr.engines.base import EngineCapabilities, OcrEngine, OcrLine, PageResult
from dangan.ocr.engines.layout import estimate_skew, reading_order
from dangan.ocr.engines.normalize import normalize_text
from dangan.ocr.engines.options import FaultSpec, OcrOptions
from dangan.ocr.engines.registry import available_engines, create_engine, register_engine

__all__ = [
    "EngineCapabilities",
    "FaultSpec",
    "OcrEngine",
    "OcrLine",
    "OcrOptions",
    "PageResult",
    "available_engines",
    "create_engine",
    "estimate_skew",
    "normalize_text",
    "reading_order",
    "register_engine",
]
