"""Where the torch path runs: CUDA when torch can really use it, else CPU, always with the reason recorded.

A CUDA probe is more than ``torch.cuda.is_available()``: a small kernel is run and synchronized, which
surfaces driver/runtime mismatches at start-up instead of on the first page. On Linux a host with no NVIDIA
device node cannot have CUDA, so that case is answered without importing torch (engines built on CPU hosts
stay cheap).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

log = logging.getLogger("dangan.ocr")

_DEVICE_NODES = (Path("/dev/nvidiactl"), Path("/dev/dxg"))  # native driver, WSL2


@dataclass(frozen=True)
class TorchDevice:
    """A torch device for OCR, whether it runs fp16, and why it was chosen."""

    device: str
    half: bool
    reason: str

    @property
    def is_cuda(self) -> bool:
        """True for a CUDA device."""
        return self.device.startswith("cuda")

    @property
    def label(self) -> str:
        """What ``PageResult.device`` records (≤ 20 characters): ``cuda:0/torch-fp16``, ``cpu/torch``."""
        if not self.is_cuda:
            return "cpu/torch"
        return f"{self.device}/torch-{'fp16' if self.half else 'fp32'}"


def nvidia_device_present() -> bool:
    """Whether this host has an NVIDIA device node (native driver or WSL2); nothing is imported."""
    return not sys.platform.startswith("linux") or any(p.exists() for p in _DEVICE_NODES)


def torch_missing() -> str | None:
    """None when torch, onnx and onnx2torch are installed, else which one is not (nothing is imported)."""
    for name in ("torch", "onnx", "onnx2torch"):
        if find_spec(name) is None:
            return f"{name} is not installed (install the `gpu` extra)"
    return None


def cuda_unusable() -> str | None:
    """None when torch can run a kernel on ``cuda:0``, else why not."""
    if sys.platform.startswith("linux") and not any(p.exists() for p in _DEVICE_NODES):
        return "no NVIDIA device on this host (no /dev/nvidiactl)"
    missing = torch_missing()
    if missing:
        return missing
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} (CUDA build {torch.version.cuda}) sees no usable CUDA device"
    try:
        probe = torch.arange(64, device="cuda:0", dtype=torch.float32)
        float((probe @ probe).item())
        torch.cuda.synchronize()
    except Exception as exc:  # driver/runtime errors come as RuntimeError, AcceleratorError, ...
        return f"CUDA probe failed: {type(exc).__name__}: {exc}"
    return None


def choose_torch_device(requested: Literal["auto", "cpu", "cuda"], fp16: bool = True) -> TorchDevice:
    """CUDA (fp16 when ``fp16``) unless ``requested`` is cpu or CUDA is unusable; CPU always runs fp32."""
    if requested == "cpu":
        return TorchDevice("cpu", False, "requested cpu")
    reason = cuda_unusable()
    if reason is None:
        return TorchDevice("cuda:0", fp16, "CUDA kernel probe passed")
    log.warning("OCR torch backend runs on CPU: %s", reason)
    return TorchDevice("cpu", False, reason)


def cpu_fallback(failed: TorchDevice, why: str) -> TorchDevice:
    """The CPU device used after ``failed`` could not run the models (logged, reason kept)."""
    reason = f"{failed.device} failed: {why}"
    log.warning("OCR torch backend falls back to CPU: %s", reason)
    return TorchDevice("cpu", False, reason)
