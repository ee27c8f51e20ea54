"""PP-OCR engine: our own thin det → (cls) → rec pipeline on onnxruntime.

Model files are loaded explicitly by path (the ones bundled in the ``rapidocr`` wheel by default, or
``model_dir``); rapidocr itself is never imported, so nothing can be downloaded. Every file is hashed and
optionally checked against pinned digests before any session is opened.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from dangan.errors import OcrEngineUnavailable
from dangan.ocr.engines.base import (
    PAGE_FAILED,
    EngineCapabilities,
    EngineIdentity,
    OcrLine,
    PageResult,
    check_image,
    image_size,
)
from dangan.ocr.engines.cls import LineOrientation
from dangan.ocr.engines.det import TextDetector
from dangan.ocr.engines.layout import recognized_lines
from dangan.ocr.engines.models import find_model_files, model_identity, verify_checksums
from dangan.ocr.engines.rec import crop_quad, load_charset
from dangan.ocr.engines.rec_bucketed import BucketedRecognizer
from dangan.ocr.engines.runtime import choose_device, open_session, session_metadata
from dangan.ocr.orientation import Orientation, orient_page
from dangan.pii import scrub

if TYPE_CHECKING:  # importable without pydantic (bench/ocr_gpu.py runs on bare GPU hosts)
    from dangan.ocr.engines.options import PpOcrOptions

log = logging.getLogger("dangan.ocr")


class PpOcrEngine:
    """PP-OCR text detection + recognition; lines come back normalized and in reading order."""

    name = "ppocr"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        expected_model_sha256: Mapping[str, str] | None = None,
        det_limit_side_len: int = 1600,
        det_batch: int = 1,
        rec_batch: int = 16,
        threads: int = 0,
        min_confidence: float = 0.5,
        use_cls: bool = False,
        rec_min_width: int = 320,
        page_orientation: bool = True,
    ) -> None:
        files = find_model_files(model_dir)
        if use_cls and files.cls is None:
            raise OcrEngineUnavailable("use_cls is set but the model folder has no *cls*.onnx file")
        if page_orientation and files.cls is None:
            log.warning("OCR: page orientation is off: the model folder %s has no *cls*.onnx file", files.det.parent)
            page_orientation = False
        if not (use_cls or page_orientation):
            files = dataclasses.replace(files, cls=None)
        digests = verify_checksums(files, expected_model_sha256)
        choice = choose_device(device, files.det, threads)
        det_session = open_session(files.det, choice, threads)
        rec_session = open_session(files.rec, choice, threads)
        self.detector = TextDetector(det_session, det_limit_side_len)
        self.recognizer = BucketedRecognizer(
            rec_session, load_charset(session_metadata(rec_session), files.keys), rec_batch, rec_min_width
        )
        cls_session = open_session(files.cls, choice, threads) if files.cls else None
        # one classifier session, two uses: flipping single lines (use_cls) and voting on the page's angle
        self.orientation = LineOrientation(cls_session, rec_batch) if use_cls and cls_session else None
        self.page_classifier = LineOrientation(cls_session, rec_batch) if page_orientation and cls_session else None
        self.det_batch = det_batch
        self.min_confidence = min_confidence
        self.files = files
        self.device_reason = choice.reason
        # The reading's identity names the models that read the text (det, rec, and cls when it flips lines). The
        # classifier used only to vote on the page angle is checksum-verified above and its verdict is recorded on
        # every page (orientation + confidence), but it does not rename the reading: upright pages read exactly
        # as before, and the onnxruntime and torch runtimes keep one identity.
        if files.cls is not None and not use_cls:
            id_files = dataclasses.replace(files, cls=None)
            id_digests = {k: v for k, v in digests.items() if k != files.cls.name}
        else:
            id_files, id_digests = files, digests
        self._id = EngineIdentity(self.name, model_identity(id_files, id_digests), id_digests, choice.device)
        self.capabilities = EngineCapabilities(
            batched=True,
            gpu=choice.device.startswith("cuda"),
            languages=("chi_sim", "eng"),
            line_boxes=True,
            orientation=self.orientation is not None or self.page_classifier is not None,
        )

    @classmethod
    def from_options(cls, options: PpOcrOptions) -> PpOcrEngine:
        """Build from validated ``PpOcrOptions``: each keyword of the constructor is the option of that name.

        The constructor keeps plain keywords so that ``bench/ocr_gpu.py`` runs it on hosts without pydantic; a new
        option is a field of ``PpOcrOptions`` and a keyword here of the same name, nothing to copy in between."""
        return cls(**{name: getattr(options, name) for name in _PARAMS})

    def identity(self) -> EngineIdentity:
        """Engine, model identity, model file digests and the device that runs."""
        return self._id

    def _lines(self, page: np.ndarray, quads: list[tuple[np.ndarray, float]]) -> list[OcrLine]:
        if not quads:
            return []
        bgr = np.ascontiguousarray(page[:, :, ::-1])
        crops = [crop_quad(bgr, q) for q, _ in quads]
        if self.orientation is not None:
            crops = self.orientation.apply(crops)
        texts = self.recognizer.recognize(crops)
        items = ((quad, text, conf) for (quad, _), (text, conf) in zip(quads, texts, strict=True))
        return recognized_lines(items, self.min_confidence)

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        """One ``PageResult`` per image; unusable or failing pages carry ``error`` instead of lines."""
        results: list[PageResult | None] = [None] * len(images)
        good: list[tuple[int, np.ndarray]] = []
        for i, image in enumerate(images):
            rgb, error = check_image(image)
            if rgb is None:
                results[i] = self._id.page([], 0.0, *image_size(image), error)
            else:
                good.append((i, rgb))
        for start in range(0, len(good), self.det_batch):
            chunk = good[start : start + self.det_batch]
            t0 = time.perf_counter()
            detections: list[list[tuple[np.ndarray, float]] | Exception]
            try:
                detections = list(self.detector.detect([rgb for _, rgb in chunk]))
            except Exception as exc:  # a page the model chokes on: retry pages alone to isolate it
                detections = [self._detect_one(rgb) for _, rgb in chunk] if len(chunk) > 1 else [exc]
            det_share = (time.perf_counter() - t0) / len(chunk)
            for (i, rgb), det in zip(chunk, detections, strict=True):
                results[i] = self._page(rgb, det, det_share)
        return [r for r in results if r is not None]

    def _detect_one(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]] | Exception:
        try:
            return self.detector.detect([rgb])[0]
        except Exception as exc:
            return exc

    def _page(self, rgb: np.ndarray, det: list[tuple[np.ndarray, float]] | Exception, det_seconds: float) -> PageResult:
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        orientation: Orientation | None = None
        try:
            if isinstance(det, Exception):
                raise det
            if self.page_classifier is not None:  # turn the page upright first: lines and boxes are of that page
                classify = self.page_classifier.probabilities
                oriented = orient_page(rgb, det, detect=lambda im: self.detector.detect([im])[0], classify=classify)
                orientation, rgb, det = oriented.orientation, oriented.image, oriented.detections
                h, w = rgb.shape[:2]
            lines = self._lines(rgb, det)
        except Exception as exc:
            log.warning("OCR failed on a %dx%d page: %s", w, h, type(exc).__name__)
            message = f"{PAGE_FAILED}: {type(exc).__name__}: {scrub(str(exc))[:300]}"
            return self._id.page([], det_seconds, w, h, message)
        result = self._id.page(lines, det_seconds + time.perf_counter() - t0, w, h)
        result.detected_lines = len(det)
        if orientation is not None:
            result.orientation, result.orientation_confidence = orientation.angle, orientation.confidence
        return result


#: The constructor's keywords, all of them options of ``PpOcrOptions`` (checked by tests/ocr/test_ppocr.py).
_PARAMS = tuple(inspect.signature(PpOcrEngine.__init__).parameters)[1:]
