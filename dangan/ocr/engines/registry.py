"""Engine registry: name → factory(options) → ``OcrEngine``.

Built-in factories import their engine lazily, so listing engines or building options never loads
onnxruntime or pytesseract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from dangan.errors import ConfigError
from dangan.ocr.engines.base import OcrEngine
from dangan.ocr.engines.options import OcrOptions

EngineFactory = Callable[[OcrOptions], OcrEngine]

_lock = threading.Lock()
_factories: dict[str, EngineFactory] = {}


def _ppocr(options: OcrOptions) -> OcrEngine:
    from dangan.ocr.engines.backends import build_ppocr

    return build_ppocr(options)


def _tesseract(options: OcrOptions) -> OcrEngine:
    from dangan.ocr.engines.tesseract import TesseractEngine

    return TesseractEngine(
        lang=options.tesseract_lang,
        psm=options.tesseract_psm,
        dpi=options.tesseract_dpi,
        workers=options.tesseract_workers,
    )


def _paddle(options: OcrOptions) -> OcrEngine:
    from dangan.ocr.engines.paddle import PaddleOcrEngine

    return PaddleOcrEngine.from_options(options)


def _null(options: OcrOptions) -> OcrEngine:
    from dangan.ocr.engines.testing import NullEngine

    return NullEngine()


def _fault(options: OcrOptions) -> OcrEngine:
    from dangan.ocr.engines.testing import FaultEngine

    spec = options.fault
    return FaultEngine(
        fail_on_pages=set(spec.fail_on_pages),
        die_on_page=spec.die_on_page,
        raise_transient=spec.raise_transient,
    )


_BUILTIN: dict[str, EngineFactory] = {
    "ppocr": _ppocr,
    "paddle": _paddle,
    "tesseract": _tesseract,
    "null": _null,
    "fault": _fault,
}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Register (or replace) the factory for engine ``name``."""
    if not name or not name.replace("-", "_").isidentifier():
        raise ValueError(f"engine name must be a simple identifier, got {name!r}")
    with _lock:
        _factories[name] = factory


def available_engines() -> list[str]:
    """Names accepted by ``OcrOptions.engine``, sorted."""
    with _lock:
        return sorted({*_BUILTIN, *_factories})


def create_engine(options: OcrOptions | Mapping[str, Any] | None = None) -> OcrEngine:
    """Validate ``options`` (a model or a plain mapping) and build the engine they name."""
    if options is None:
        options = OcrOptions()
    elif not isinstance(options, OcrOptions):
        try:
            options = OcrOptions.model_validate(dict(options))
        except ValidationError as exc:
            raise ConfigError(f"invalid OCR options: {exc}") from exc
    with _lock:
        factory = _factories.get(options.engine) or _BUILTIN.get(options.engine)
    if factory is None:  # registered entry removed after validation
        raise ConfigError(f"unknown OCR engine {options.engine!r}")
    return factory(options)
