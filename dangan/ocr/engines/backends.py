"""Which runtime runs the ``ppocr`` engine: onnxruntime (our det/rec pipeline) or torch (batched, GPU).

``backend="auto"`` picks torch only when it can run on CUDA (torch, onnx and onnx2torch installed, a CUDA
kernel really runs, the models convert); otherwise onnxruntime, which is about twice as fast as torch on
CPU, with ``device="auto"`` so a CUDA request falls back to CPU with the reason logged rather than failing.
``backend="torch"`` always uses torch, on CPU when CUDA is unusable. ``backend="onnxruntime"`` keeps that
engine's own device rules (``device="cuda"`` fails when onnxruntime has no usable CUDA).
"""

from __future__ import annotations

import logging

from dangan.errors import ConfigError, OcrEngineUnavailable, OcrModelChecksumMismatch
from dangan.ocr.engines.base import OcrEngine
from dangan.ocr.engines.options import PpOcrOptions

log = logging.getLogger("dangan.ocr")


def resolve_backend(options: PpOcrOptions) -> tuple[str, str]:
    """``(backend, reason)`` for ``options``; torch is only chosen here, not yet loaded."""
    from dangan.ocr.engines.gpu.device import cuda_unusable, torch_missing

    if options.backend == "onnxruntime":
        return "onnxruntime", "requested onnxruntime"
    if options.backend == "torch":
        missing = torch_missing()
        if missing:
            raise OcrEngineUnavailable(f"backend torch requested but {missing}")
        return "torch", "requested torch"
    if options.device == "cpu":
        return "onnxruntime", "cpu requested: onnxruntime is the faster CPU runtime"
    reason = cuda_unusable()
    if reason:
        return "onnxruntime", f"torch cannot use CUDA: {reason}"
    return "torch", "torch can use CUDA"


def build_ppocr(options: PpOcrOptions) -> OcrEngine:
    """The ``ppocr`` engine for ``options`` on the runtime ``resolve_backend`` picks (see module doc)."""
    from dangan.ocr.engines.ppocr import PpOcrEngine

    backend, reason = resolve_backend(options)
    if backend == "torch":
        from dangan.ocr.engines.gpu.engine import TorchPpOcrEngine

        explicit = options.backend == "torch"
        try:
            return TorchPpOcrEngine.from_options(options, cpu_fallback_ok=explicit)
        except (ConfigError, OcrModelChecksumMismatch):
            raise  # wrong settings or a tampered model: no runtime will do better
        except Exception as exc:  # conversion, CUDA runtime/driver errors: assorted types
            if explicit:
                raise
            reason = f"torch on CUDA failed: {type(exc).__name__}: {exc}"
    if options.backend == "auto" and options.device == "cuda":
        log.warning("OCR: CUDA requested, using onnxruntime with device auto: %s", reason)
        options = options.model_copy(update={"device": "auto"})
    elif options.backend == "auto" and options.device == "auto":
        log.info("OCR: ppocr on onnxruntime: %s", reason)
    engine = PpOcrEngine.from_options(options)
    engine.device_reason = f"{reason}; {engine.device_reason}"
    return engine
