"""onnxruntime sessions and device choice.

``device="auto"`` uses CUDA only when onnxruntime lists ``CUDAExecutionProvider`` *and* a session actually
comes up on it (onnxruntime silently falls back to CPU when CUDA libraries are missing); otherwise CPU, with
the reason logged. ``device="cuda"`` fails instead of falling back. The device that ran is recorded.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dangan.errors import OcrEngineUnavailable

log = logging.getLogger("dangan.ocr")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class DeviceChoice:
    """Providers to pass to onnxruntime and the device label recorded on results."""

    providers: list[Any]
    device: str
    reason: str


def _session_options(threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads > 0:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Input shapes change with every page and crop batch: an arena would keep the peak forever.
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 3
    # Busy-waiting threads steal the cores that decode/QA workers and the other session need (2-core hosts).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def _cuda_probe(model: Path, threads: int) -> str | None:
    """None when a CUDA session really runs on CUDA, else why not."""
    import onnxruntime as ort

    try:
        with warnings.catch_warnings():  # onnxruntime warns when it drops the provider; we report it instead
            warnings.simplefilter("ignore")
            sess = ort.InferenceSession(
                str(model), _session_options(threads), providers=[(CUDA, {"device_id": 0}), CPU]
            )
    except Exception as exc:  # driver / library errors come as assorted types
        return f"CUDA session failed to start: {type(exc).__name__}: {exc}"
    if sess.get_providers()[:1] != [CUDA]:
        return "onnxruntime fell back to CPU (CUDA libraries not loadable)"
    return None


def choose_device(requested: Literal["auto", "cpu", "cuda"], probe_model: Path, threads: int = 0) -> DeviceChoice:
    """Resolve ``requested`` into providers, probing CUDA with ``probe_model`` when it may be used."""
    import onnxruntime as ort

    if requested == "cpu":
        return DeviceChoice([CPU], "cpu", "requested cpu")
    if CUDA not in ort.get_available_providers():
        reason = f"onnxruntime {ort.__version__} has no {CUDA} (providers: {ort.get_available_providers()})"
    else:
        reason = _cuda_probe(probe_model, threads) or ""
        if not reason:
            return DeviceChoice([(CUDA, {"device_id": 0}), CPU], "cuda:0", "CUDA session initialized")
    if requested == "cuda":
        raise OcrEngineUnavailable(
            f"device cuda requested but unusable: {reason}",
            hint="Install onnxruntime-gpu with matching CUDA/cuDNN, or set `ocr.device` to auto or cpu.",
        )
    log.info("OCR runs on CPU: %s", reason)
    return DeviceChoice([CPU], "cpu", reason)


def open_session(model: Path, choice: DeviceChoice, threads: int = 0) -> Any:
    """An ``InferenceSession`` for ``model`` on the chosen device."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(model), _session_options(threads), providers=choice.providers)
    except Exception as exc:
        raise OcrEngineUnavailable(f"cannot load OCR model {model.name}: {type(exc).__name__}: {exc}") from exc


def session_metadata(session: Any) -> dict[str, str]:
    """Custom metadata of an ONNX model (the rec model carries its character list there)."""
    return dict(session.get_modelmeta().custom_metadata_map)
