"""Engine registry: name → (options model, factory(options) → ``OcrEngine``).

Each engine declares the pydantic model of its options here; ``OcrOptions`` validates a run's options with it
and the factory hands the validated model to the engine's constructor. Built-in factories import their engine
lazily, so listing engines or building options never loads onnxruntime or pytesseract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dangan.errors import ConfigError
from dangan.ocr.engines.base import OcrEngine
from dangan.ocr.engines.options import (
    EngineOptions,
    FaultOptions,
    OcrOptions,
    PaddleOptions,
    PpOcrOptions,
    TesseractOptions,
)

EngineFactory = Callable[[Any], OcrEngine]  # takes the engine's own options model (a subclass of EngineOptions)


@dataclass(frozen=True)
class EngineEntry:
    """A registered engine: the model of its options and the factory that builds it from them."""

    options: type[EngineOptions]
    factory: EngineFactory


_lock = threading.Lock()
_entries: dict[str, EngineEntry] = {}


def _ppocr(options: PpOcrOptions) -> OcrEngine:
    from dangan.ocr.engines.backends import build_ppocr

    return build_ppocr(options)


def _tesseract(options: TesseractOptions) -> OcrEngine:
    from dangan.ocr.engines.tesseract import TesseractEngine

    return TesseractEngine(options)


def _paddle(options: PaddleOptions) -> OcrEngine:
    from dangan.ocr.engines.paddle import PaddleOcrEngine

    return PaddleOcrEngine(options)


def _null(options: EngineOptions) -> OcrEngine:
    from dangan.ocr.engines.testing import NullEngine

    return NullEngine(options)


def _fault(options: FaultOptions) -> OcrEngine:
    from dangan.ocr.engines.testing import FaultEngine

    return FaultEngine(options)


_BUILTIN: dict[str, EngineEntry] = {
    "ppocr": EngineEntry(PpOcrOptions, _ppocr),
    "paddle": EngineEntry(PaddleOptions, _paddle),
    "tesseract": EngineEntry(TesseractOptions, _tesseract),
    "null": EngineEntry(EngineOptions, _null),
    "fault": EngineEntry(FaultOptions, _fault),
}


def register_engine(name: str, factory: EngineFactory, options: type[EngineOptions] = EngineOptions) -> None:
    """Register (or replace) engine ``name``: ``factory`` gets a validated instance of ``options``."""
    if not name or not name.replace("-", "_").isidentifier():
        raise ValueError(f"engine name must be a simple identifier, got {name!r}")
    if not (isinstance(options, type) and issubclass(options, EngineOptions)):
        raise TypeError(f"options of engine {name!r} must be a subclass of EngineOptions")
    with _lock:
        _entries[name] = EngineEntry(options, factory)


def _entry(name: str) -> EngineEntry | None:
    with _lock:
        return _entries.get(name) or _BUILTIN.get(name)


def available_engines() -> list[str]:
    """Names accepted by ``OcrOptions.engine``, sorted."""
    with _lock:
        return sorted({*_BUILTIN, *_entries})


def options_model(name: str) -> type[EngineOptions]:
    """The options model engine ``name`` declared (``KeyError`` for an unknown engine)."""
    entry = _entry(name)
    if entry is None:
        raise KeyError(name)
    return entry.options


def create_engine(options: OcrOptions | Mapping[str, Any] | None = None) -> OcrEngine:
    """Validate ``options`` (a model or a plain mapping) and build the engine they name."""
    if options is None:
        options = OcrOptions()
    elif not isinstance(options, OcrOptions):
        try:
            options = OcrOptions.model_validate(dict(options))
        except ValidationError as exc:
            raise ConfigError(f"invalid OCR options: {exc}") from exc
    entry = _entry(options.engine)
    if entry is None or not isinstance(options.engine_options, entry.options):  # re-registered after validation
        raise ConfigError(f"unknown OCR engine {options.engine!r} or options that no longer fit it")
    return entry.factory(options.engine_options)
