"""PaddleOCR model folders: build them from PP-OCR ONNX files, and identify/pin the files they hold.

A folder holds ``inference.yml`` (model name PaddleX picks the predictor by, pre/post-processing, the rec
character list) plus the model: ``inference.onnx`` (onnxruntime runtime) or Paddle files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dangan.errors import ConfigError, OcrEngineUnavailable, OcrModelChecksumMismatch
from dangan.ocr.engines.models import find_model_files, sha256_file

# Names PaddleX knows (it picks the predictor by name); the bundled v2.0 cls is run under the textline name.
DET_NAME, REC_NAME, CLS_NAME = "PP-OCRv6_small_det", "PP-OCRv6_small_rec", "PP-LCNet_x0_25_textline_ori"
_NORM = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": "1./255.", "order": "hwc"}
_NORM_OPS = ({"NormalizeImage": _NORM}, {"ToCHWImage": None})
_CLS_NORM = {"channel_num": 3, "mean": [0.5] * 3, "std": [0.5] * 3, "scale": 1 / 255, "order": ""}
_MODEL_FILES = ("inference.onnx", "inference.json", "inference.pdmodel", "inference.pdiparams", "inference.yml")


@dataclass(frozen=True)
class PaddleModelDirs:
    """PaddleOCR model folders: text detection, text recognition and (optional) line orientation."""

    det: Path
    rec: Path
    cls: Path | None = None


def _write_atomic(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_folder(folder: Path, onnx: Path, config: dict[str, Any]) -> Path:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    if yaml.load(text, Loader=yaml.FullLoader) != config:  # PaddleX reads with FullLoader
        raise OcrEngineUnavailable(f"the PaddleOCR config for {onnx.name} does not survive a YAML round trip")
    target = folder / "inference.onnx"
    if not target.is_file() or sha256_file(target) != sha256_file(onnx):
        _write_atomic(target, onnx.read_bytes())
    _write_atomic(folder / "inference.yml", text.encode("utf-8"))
    return folder


def prepare_model_dirs(dest: Path, source_dir: Path | None = None, *, with_cls: bool = True) -> PaddleModelDirs:
    """Write PaddleOCR onnxruntime folders ``dest/{det,rec,cls}`` from PP-OCR ONNX files (idempotent).

    ``source_dir`` is searched like ``ocr.model_dir`` (default: the files bundled in ``rapidocr``); the rec
    character list comes from the rec model's ``character`` metadata or the folder's ``*.txt`` file.
    """
    import onnxruntime as ort

    files = find_model_files(source_dir)
    session = ort.InferenceSession(str(files.rec), providers=["CPUExecutionProvider"])
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if "character" in meta:
        chars = meta["character"].splitlines()
    elif files.keys is not None:
        chars = files.keys.read_text(encoding="utf-8").splitlines()
    else:
        raise OcrEngineUnavailable(f"{files.rec.name} has no 'character' metadata and no *.txt list is beside it")
    read = {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}}
    det = _write_folder(
        dest / "det",
        files.det,
        {
            "Global": {"model_name": DET_NAME},
            "PreProcess": {"transform_ops": [read, {"DetResizeForTest": {"resize_long": 960}}, *_NORM_OPS]},
            "PostProcess": {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 1.5},
        },
    )
    rec = _write_folder(
        dest / "rec",
        files.rec,
        {
            "Global": {"model_name": REC_NAME},
            "PreProcess": {"transform_ops": [read, {"RecResizeImg": {"image_shape": [3, 48, 320]}}]},
            "PostProcess": {"name": "CTCLabelDecode", "character_dict": chars},
        },
    )
    cls = None
    if with_cls and files.cls is not None:
        ops = [{"ResizeImage": {"size": [192, 48]}}, {"NormalizeImage": _CLS_NORM}, {"ToCHWImage": None}]
        cls = _write_folder(
            dest / "cls",
            files.cls,
            {
                "Global": {"model_name": CLS_NAME},
                "PreProcess": {"transform_ops": ops},
                "PostProcess": {"Topk": {"topk": 1, "label_list": ["0_degree", "180_degree"]}},
            },
        )
    return PaddleModelDirs(det=det, rec=rec, cls=cls)


def folder_digests(role: str, folder: Path) -> dict[str, str]:
    """``{"det_inference.onnx": sha256, ...}`` for the model files in ``folder`` (needs a yml and a model)."""
    found = {name: folder / name for name in _MODEL_FILES if (folder / name).is_file()}
    if "inference.yml" not in found or len(found) < 2:
        raise OcrEngineUnavailable(
            f"PaddleOCR {role} folder {folder} needs inference.yml and a model (inference.onnx or Paddle files)",
            hint="Build one with dangan.ocr.engines.paddle.prepare_model_dirs, or point at an official model folder.",
        )
    return {f"{role}_{name}": sha256_file(path) for name, path in found.items()}


def model_name_of(folder: Path) -> str:
    import yaml

    config = yaml.load((folder / "inference.yml").read_text(encoding="utf-8"), Loader=yaml.FullLoader)
    return str(config["Global"]["model_name"])


def check_pins(digests: Mapping[str, str], expected: Mapping[str, str] | None) -> None:
    for name, want in (expected or {}).items():
        found = digests.get(name)
        if found is None:
            raise ConfigError(f"expected_model_sha256 pins {name!r}, not among {', '.join(sorted(digests))}")
        if found != want.lower():
            message = f"model file {name} has SHA-256 {found[:12]}…, expected {want[:12]}…"
            raise OcrModelChecksumMismatch(message, file=name, expected=want.lower(), found=found)


def default_cache_dir() -> Path:
    """Where prepared folders go: ``$XDG_CACHE_HOME/dangan/paddle-models`` (``~/.cache`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dangan" / "paddle-models"
