"""PaddleOCR engine: PaddleOCR 3.x's own pipeline (det → optional line orientation → rec), from local folders only.

Each model folder holds ``inference.yml`` (model name, pre/post-processing, rec character list) plus the model:
``inference.onnx`` for the ``onnxruntime`` runtime (default, no paddlepaddle needed), or Paddle files
(``inference.json``/``.pdmodel`` + ``.pdiparams``) for the ``paddle`` runtime (paddlepaddle(-gpu); oneDNN is
switched off on CPU, it crashes there in 3.x). Without configured folders, ``prepare_model_dirs`` builds
onnxruntime folders from the PP-OCR ONNX files bundled in the ``rapidocr`` wheel (or ``model_dir``).
Nothing is downloaded: model names and folders are always given, and the model-hub checks are off.
PaddleX creates ``~/.paddlex`` on import; set ``PADDLE_PDX_CACHE_HOME`` where the home folder is read-only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dangan.errors import ConfigError, OcrEngineUnavailable
from dangan.ocr.engines.base import (
    EngineCapabilities,
    EngineIdentity,
    OcrLine,
    PageResult,
    quad_from_bbox,
    recognize_each,
)
from dangan.ocr.engines.layout import recognized_lines
from dangan.ocr.engines.models import find_model_files, sha256_file, verify_checksums
from dangan.ocr.engines.options import PaddleOptions
from dangan.ocr.engines.paddle_models import (
    PaddleModelDirs,
    check_pins,
    default_cache_dir,
    folder_digests,
    model_name_of,
    prepare_model_dirs,
)

log = logging.getLogger("dangan.ocr")

INSTALL_HINT = "install with pip install 'dangan[paddle]'"
OFFLINE_ENV = {"PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True", "HF_HUB_OFFLINE": "1"}


def _import_paddleocr() -> Any:
    os.environ.update(OFFLINE_ENV)  # PaddleX reads them when first imported
    try:
        import paddleocr
    except ImportError as exc:
        raise OcrEngineUnavailable(f"the paddleocr package is not installed ({exc})", hint=INSTALL_HINT) from exc
    return paddleocr


class PaddleOcrEngine:
    """PaddleOCR's OCR pipeline on local model folders; lines come back normalized and in reading order."""

    name = "paddle"

    def __init__(self, options: PaddleOptions | None = None) -> None:
        """Without ``det_dir``/``rec_dir`` the folders are prepared from ``model_dir`` (default: the bundled
        ONNX files) under ``cache_dir``."""
        o = options if options is not None else PaddleOptions()
        dirs = PaddleModelDirs(o.det_dir, o.rec_dir, o.cls_dir) if o.det_dir and o.rec_dir else None
        runtime, device, threads, use_cls = o.runtime, o.device, o.threads, o.use_cls
        paddleocr = _import_paddleocr()
        if dirs is None:
            if runtime != "onnxruntime":
                raise ConfigError("runtime paddle needs Paddle model folders ([ocr.paddle] det_dir, rec_dir)")
            files = find_model_files(o.model_dir)
            verify_checksums(files)  # the bundled files against BUNDLED_SHA256 (a model_dir is the user's own)
            sources = hashlib.sha256("".join(sha256_file(p) for p in files.paths()).encode()).hexdigest()[:12]
            dirs = prepare_model_dirs((o.cache_dir or default_cache_dir()) / sources, o.model_dir, with_cls=use_cls)
        if use_cls and dirs.cls is None:
            raise OcrEngineUnavailable("use_cls is set but there is no line orientation (cls) model folder")
        roles = {"det": dirs.det, "rec": dirs.rec, **({"cls": dirs.cls} if use_cls and dirs.cls else {})}
        digests: dict[str, str] = {}
        for role, folder in roles.items():
            digests.update(folder_digests(role, Path(folder)))
        check_pins(digests, o.expected_model_sha256)
        names = {role: model_name_of(Path(folder)) for role, folder in roles.items()}
        device_label, paddle_device, kwargs = self._device(runtime, device, Path(dirs.det), threads)
        kwargs.update(text_det_limit_side_len=o.det_limit_side_len, text_det_limit_type="max")
        if "cls" in roles:
            kwargs.update(textline_orientation_model_name=names["cls"], textline_orientation_model_dir=str(dirs.cls))
        try:
            self._pipeline = paddleocr.PaddleOCR(
                text_detection_model_name=names["det"],
                text_detection_model_dir=str(dirs.det),
                text_recognition_model_name=names["rec"],
                text_recognition_model_dir=str(dirs.rec),
                use_doc_orientation_classify=False,
                use_doc_unwarping=False,
                use_textline_orientation="cls" in roles,
                text_rec_score_thresh=0.0,
                engine=runtime,
                device=paddle_device,
                **kwargs,
            )
        except Exception as exc:  # PaddleX raises assorted types for bad folders and missing runtimes
            raise OcrEngineUnavailable(f"PaddleOCR failed to start: {type(exc).__name__}: {exc}") from exc
        self.dirs, self.min_confidence, self._lock = dirs, o.min_confidence, threading.Lock()
        combined = hashlib.sha256("\n".join(f"{k}:{digests[k]}" for k in sorted(digests)).encode()).hexdigest()
        det_family, rec_family = names["det"].removesuffix("_det"), names["rec"].removesuffix("_rec")
        family = det_family if det_family == rec_family else f"{names['det']}+{names['rec']}"
        model = f"{family} {'+'.join(roles)}@{combined[:12]} paddleocr-{version('paddleocr')}/{runtime}"
        self._id = EngineIdentity(self.name, model, digests, device_label)
        self.capabilities = EngineCapabilities(
            batched=False,
            gpu=device_label.startswith("cuda"),
            languages=("chi_sim", "eng"),
            line_boxes=True,
            orientation="cls" in roles,
        )

    @staticmethod
    def _device(
        runtime: str, device: Literal["auto", "cpu", "cuda"], det_dir: Path, threads: int
    ) -> tuple[str, str, dict[str, Any]]:
        """(recorded device, PaddleX device, runtime kwargs) for the requested device."""
        if runtime == "onnxruntime":
            from dangan.ocr.engines.runtime import choose_device

            label = choose_device(device, det_dir / "inference.onnx", threads).device
            config = {"intra_op_num_threads": threads} if threads > 0 else None
            return label, "gpu:0" if label.startswith("cuda") else "cpu", {"engine_config": config}
        if find_spec("paddle") is None:
            raise OcrEngineUnavailable("runtime paddle needs paddlepaddle", hint="pip install paddlepaddle(-gpu)")
        import paddle

        cuda = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
        if device == "cuda" and not cuda:
            raise OcrEngineUnavailable("device cuda requested but paddlepaddle sees no CUDA GPU")
        if cuda and device != "cpu":
            return "cuda:0", "gpu:0", {}
        return "cpu", "cpu", {"enable_mkldnn": False, **({"cpu_threads": threads} if threads > 0 else {})}

    def identity(self) -> EngineIdentity:
        """Engine, model identity (family, digest, paddleocr version, runtime), file digests, device."""
        return self._id

    def _lines(self, result: Mapping[str, Any]) -> list[OcrLine]:
        items = []
        for text, score, poly in zip(result["rec_texts"], result["rec_scores"], result["rec_polys"], strict=True):
            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            box = pts if len(pts) == 4 else quad_from_bbox(*pts.min(axis=0), *pts.max(axis=0))
            items.append((box, str(text), float(score)))
        return recognized_lines(items, self.min_confidence)

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        """One ``PageResult`` per image, pages run one after another; a failing page carries ``error``."""
        return recognize_each(self._id, images, self._read, label="PaddleOCR")

    def _read(self, rgb: np.ndarray) -> list[OcrLine]:
        with self._lock:  # a PaddleX pipeline is not safe to share between threads
            [result] = self._pipeline.predict(np.ascontiguousarray(rgb[:, :, ::-1]))  # PaddleX wants BGR
        return self._lines(result)
