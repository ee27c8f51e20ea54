"""Model loading for the torch path: the same located, hashed and pinned files as the onnxruntime engine,
converted to torch and smoke-run once on the chosen device (so a broken CUDA setup fails at start-up)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dangan.errors import OcrEngineUnavailable
from dangan.ocr.engines.gpu.convert import converted_module
from dangan.ocr.engines.gpu.device import TorchDevice
from dangan.ocr.engines.models import find_model_files, model_identity, verify_checksums
from dangan.ocr.engines.rec import load_charset


@dataclass
class TorchModels:
    """Converted det/rec modules, the CTC charset, the optional orientation classifier and provenance."""

    det: Any
    rec: Any
    charset: list[str]
    orientation: Any | None
    identity: str
    digests: dict[str, str]


def _rec_metadata(path: Path) -> dict[str, str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def _smoke(det: Any, rec: Any, choice: TorchDevice) -> None:
    import torch

    dtype = torch.float16 if choice.half else torch.float32
    with torch.inference_mode():
        det(torch.zeros((1, 3, 64, 64), dtype=dtype, device=choice.device))
        rec(torch.zeros((1, 3, 48, 320), dtype=dtype, device=choice.device))
    if choice.is_cuda:
        torch.cuda.synchronize()


def load_models(
    model_dir: Path | None, expected_sha256: Mapping[str, str] | None, choice: TorchDevice, use_cls: bool
) -> TorchModels:
    """Locate, verify, convert and smoke-run the models on ``choice``'s device."""
    files = find_model_files(model_dir)
    if use_cls and files.cls is None:
        raise OcrEngineUnavailable("use_cls is set but the model folder has no *cls*.onnx file")
    if not use_cls:
        files = replace(files, cls=None)
    digests = verify_checksums(files, expected_sha256)
    det = converted_module(files.det, digests[files.det.name], choice.device, choice.half)
    rec = converted_module(files.rec, digests[files.rec.name], choice.device, choice.half)
    _smoke(det, rec, choice)
    orientation = None
    if files.cls is not None:  # tiny model on small crops: onnxruntime on CPU is plenty
        from dangan.ocr.engines.cls import LineOrientation
        from dangan.ocr.engines.runtime import DeviceChoice, open_session

        cpu = DeviceChoice(["CPUExecutionProvider"], "cpu", "orientation classifier on CPU")
        orientation = LineOrientation(open_session(files.cls, cpu), batch_size=64)
    charset = load_charset(_rec_metadata(files.rec), files.keys)
    return TorchModels(det, rec, charset, orientation, model_identity(files, digests), digests)
