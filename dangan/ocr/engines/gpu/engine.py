"""The ``ppocr`` engine on torch (CUDA fp16, or CPU fp32): a pipelined, batched page runner.

Pages flow in chunks of ``det_batch``: worker threads decode (when given loaders) and resize chunk k+1
while the device detects chunk k; DB post-processing and line cropping of chunk k run on the workers while
the device recognizes the crops of chunk k-1 (all its pages' crops together, bucketed by width). Output
lines are normalized and in reading order, like the onnxruntime engine's.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dangan.errors import ConfigError, OcrDeviceLost, OcrModelChecksumMismatch
from dangan.ocr.engines.base import (
    PAGE_FAILED,
    EngineCapabilities,
    EngineIdentity,
    PageResult,
    check_image,
    image_size,
)
from dangan.ocr.engines.det import DetParams, boxes_from_prob
from dangan.ocr.engines.gpu.device import TorchDevice, choose_torch_device, cpu_fallback
from dangan.ocr.engines.gpu.infer import TorchDetector, TorchRecognizer, prepare_crop, split_on_oom
from dangan.ocr.engines.layout import recognized_lines
from dangan.pii import scrub

if TYPE_CHECKING:
    from dangan.ocr.engines.options import PpOcrOptions

log = logging.getLogger("dangan.ocr")

PageSource = np.ndarray | None | Callable[[], np.ndarray | None]
#: CPU runs: bigger batches only cost memory there (no launch overhead to amortize).
_CPU_DET_BATCH, _CPU_REC_BATCH = 2, 32


@dataclass
class _Page:
    rgb: np.ndarray | None = None
    resized: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)
    error: str | None = None
    prob: tuple[np.ndarray, Any] | None = None
    quads: list[tuple[np.ndarray, float]] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0


def _failure(exc: BaseException) -> str:
    return f"{PAGE_FAILED}: {type(exc).__name__}: {scrub(str(exc))[:300]}"


_DEVICE_ERROR_MARKS = ("CUDA error", "CUBLAS_STATUS", "CUDNN_STATUS", "cuDNN error", "device-side assert", "NVML")
_MEMORY_MARKS = ("out of memory", "ALLOC_FAILED")  # a page too big for free memory: that page's problem


def device_error(exc: BaseException) -> bool:
    """True for errors that say the GPU itself failed (as opposed to one page the model chokes on)."""
    text = f"{type(exc).__name__}: {exc}"
    if any(mark in text for mark in _MEMORY_MARKS):
        return False
    return "AcceleratorError" in text or any(mark in text for mark in _DEVICE_ERROR_MARKS)


class TorchPpOcrEngine:
    """PP-OCR det + rec on torch; ``recognize_stream`` overlaps CPU work with device inference."""

    name = "ppocr"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        expected_model_sha256: Mapping[str, str] | None = None,
        det_limit_side_len: int = 1600,
        det_batch: int = 16,
        rec_batch: int = 1024,
        fp16: bool = True,
        workers: int = 0,
        min_confidence: float = 0.5,
        use_cls: bool = False,
        rec_min_width: int = 320,
        cpu_fallback_ok: bool = True,
    ) -> None:
        from dangan.ocr.engines.gpu.models import load_models

        choice = choose_torch_device(device, fp16)
        try:
            self.models = load_models(model_dir, expected_model_sha256, choice, use_cls)
        except (ConfigError, OcrModelChecksumMismatch):
            raise  # not a device problem
        except Exception as exc:  # CUDA/driver errors while loading or smoke-running: assorted types
            if not choice.is_cuda or not cpu_fallback_ok:
                raise
            choice = cpu_fallback(choice, f"{type(exc).__name__}: {exc}")
            self.models = load_models(model_dir, expected_model_sha256, choice, use_cls)
        self.choice: TorchDevice = choice
        self.device_reason = choice.reason
        self.healthy = True  # False once the device failed mid-run (engine_for then builds a new engine)
        on_cpu = not choice.is_cuda
        self.det_batch = min(det_batch, _CPU_DET_BATCH) if on_cpu else det_batch
        self.detector = TorchDetector(self.models.det, choice.device, choice.half, det_limit_side_len)
        self.recognizer = TorchRecognizer(
            self.models.rec, choice.device, choice.half, self.models.charset,
            min(rec_batch, _CPU_REC_BATCH) if on_cpu else rec_batch, rec_min_width,
        )  # fmt: skip
        self.params = DetParams()
        self.min_confidence = min_confidence
        self.workers = workers or min(32, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ocr-cpu")
        self._id = EngineIdentity(self.name, self.models.identity, self.models.digests, choice.label)
        self.capabilities = EngineCapabilities(
            batched=True, gpu=choice.is_cuda, languages=("chi_sim", "eng"), line_boxes=True,
            orientation=self.models.orientation is not None,
        )  # fmt: skip
        self.timings: dict[str, float] = defaultdict(float)
        self.crops_seen = 0
        self._timing_lock = threading.Lock()

    @classmethod
    def from_options(cls, options: PpOcrOptions, *, cpu_fallback_ok: bool = True) -> TorchPpOcrEngine:
        """Build from validated ``PpOcrOptions`` (its ``torch_*`` fields; plain keywords keep this engine usable
        without pydantic, for bench/ocr_gpu.py)."""
        return cls(
            options.model_dir, device=options.device, expected_model_sha256=options.expected_model_sha256,
            det_limit_side_len=options.det_limit_side_len, det_batch=options.torch_det_batch,
            rec_batch=options.torch_rec_batch, fp16=options.torch_fp16, workers=options.torch_workers,
            min_confidence=options.min_confidence, use_cls=options.use_cls, rec_min_width=options.rec_min_width,
            cpu_fallback_ok=cpu_fallback_ok,
        )  # fmt: skip

    def identity(self) -> EngineIdentity:
        """Engine, model identity, model file digests and the device that runs (``cuda:0/torch-fp16``...)."""
        return self._id

    def _add(self, stage: str, seconds: float) -> None:
        with self._timing_lock:
            self.timings[stage] += seconds

    # --- CPU-side stages (worker threads) ---------------------------------------------------------------
    def _prepare(self, source: PageSource) -> _Page:
        t0 = time.perf_counter()
        page = _Page()
        try:
            image = source() if callable(source) else source
            t1 = time.perf_counter()
            self._add("decode", t1 - t0)
            rgb, page.error = check_image(image)
            page.size = image_size(image)
            if rgb is not None:
                page.rgb, page.resized = rgb, self.detector.prepare(rgb)
            self._add("prepare", time.perf_counter() - t1)
        except Exception as exc:  # a loader that cannot decode its page fails that page only
            page.error = _failure(exc)
        page.seconds += time.perf_counter() - t0
        return page

    def _crop(self, page: _Page) -> _Page:
        t0 = time.perf_counter()
        try:
            assert page.prob is not None and page.rgb is not None
            prob, _slot = page.prob
            page.quads = boxes_from_prob(prob.astype(np.float32), page.size[0], page.size[1], self.params)
            bgr = np.ascontiguousarray(page.rgb[:, :, ::-1])
            page.crops = [prepare_crop(bgr, q) for q, _ in page.quads]
            if self.models.orientation is not None and page.crops:
                page.crops = self.models.orientation.apply(page.crops)
        except Exception as exc:
            page.error = _failure(exc)
        page.prob = None
        page.seconds += time.perf_counter() - t0
        self._add("postprocess", time.perf_counter() - t0)
        return page

    # --- device-side stages (caller's thread) -----------------------------------------------------------
    def _detect(self, pages: list[_Page]) -> None:
        good = [p for p in pages if p.error is None]
        if not good:
            return
        t0 = time.perf_counter()

        def run(part: Sequence[_Page]) -> list[tuple[np.ndarray, Any]]:
            return self.detector.run([p.resized for p in part], [p.size for p in part])  # type: ignore[misc]

        try:
            maps = split_on_oom(run, good)
        except Exception:  # a page the model chokes on: retry pages alone to isolate it
            maps, errors = [], []
            for p in good:
                try:
                    maps.extend(run([p]))
                except Exception as exc:
                    p.error = _failure(exc)
                    maps.append(None)  # type: ignore[arg-type]
                    errors.append(exc)
            self._check_device(errors, len(good))
        for p, m in zip(good, maps, strict=True):
            p.prob, p.resized = m, None
        share = (time.perf_counter() - t0) / len(good)
        for p in good:
            p.seconds += share
        self._add("detect", time.perf_counter() - t0)

    def _finish(self, pages: list[_Page], post: list[Future[_Page] | None]) -> list[Future[PageResult]]:
        pages = [f.result() if f is not None else p for p, f in zip(pages, post, strict=True)]
        good = [p for p in pages if p.error is None]
        crops = [c for p in good for c in p.crops]
        t0 = time.perf_counter()
        try:
            texts = self.recognizer.run(crops)
        except Exception:
            texts = self._recognize_per_page(good)
        rec_seconds = time.perf_counter() - t0
        self._add("recognize", rec_seconds)
        self.crops_seen += len(crops)
        per_crop = rec_seconds / max(len(crops), 1)
        jobs: list[Future[PageResult]] = []
        at = 0
        for p in pages:
            mine = texts[at : at + len(p.crops)] if p.error is None else []
            at += len(mine)
            jobs.append(self._pool.submit(self._result, p, mine, per_crop))
        return jobs

    def _result(self, p: _Page, texts: list[tuple[str, float]], per_crop: float) -> PageResult:
        """Worker side: normalized lines above the confidence floor, in reading order."""
        if p.error is not None:
            return self._id.page([], p.seconds, *p.size, p.error)
        t0 = time.perf_counter()
        items = ((quad, raw, conf) for (quad, _), (raw, conf) in zip(p.quads, texts, strict=True))
        lines = recognized_lines(items, self.min_confidence)
        self._add("finish", time.perf_counter() - t0)
        return self._id.page(lines, p.seconds + per_crop * len(texts), *p.size)

    def _recognize_per_page(self, good: list[_Page]) -> list[tuple[str, float]]:
        texts: list[tuple[str, float]] = []
        errors: list[Exception] = []
        for p in good:
            try:
                texts.extend(self.recognizer.run(p.crops))
            except Exception as exc:
                p.error, p.crops = _failure(exc), []
                errors.append(exc)
        # pages without crops (blank) never touch the device: they neither prove nor disprove it works
        self._check_device(errors, sum(1 for p in good if p.crops or p.error))
        return texts

    def _check_device(self, errors: list[Exception], pages: int) -> None:
        """Every page of a batch failed with a GPU error: the device is gone, not the pages. Mark this engine
        unhealthy (``engine_for`` replaces it) and raise a retryable error instead of failing the pages."""
        # two pages at least: one page failing alone may be that page (e.g. an odd size the kernels reject)
        if pages >= 2 and len(errors) == pages and all(device_error(e) for e in errors):
            self.healthy = False
            log.warning("OCR: %s failed on every page of a batch; the engine will be rebuilt", self._id.device)
            raise OcrDeviceLost(
                f"{self._id.device} failed: {type(errors[0]).__name__}: {scrub(str(errors[0]))[:200]}",
                device=self._id.device,
            )

    def recognize_stream(self, sources: Iterable[PageSource]) -> Iterator[PageResult]:
        """One ``PageResult`` per source, in order. A source is an image or a zero-argument loader
        returning one (called on a worker thread, so decoding overlaps inference)."""
        it = iter(sources)
        chunks: list[list[Future[_Page]]] = []

        def submit_next() -> None:
            chunk = list(islice(it, self.det_batch))
            if chunk:
                chunks.append([self._pool.submit(self._prepare, s) for s in chunk])

        submit_next()
        submit_next()  # one chunk ahead: decode overlaps detection
        pending: tuple[list[_Page], list[Future[_Page] | None]] | None = None
        finished: list[list[Future[PageResult]]] = []
        while chunks:
            pages = [f.result() for f in chunks.pop(0)]
            submit_next()
            self._detect(pages)
            post = [self._pool.submit(self._crop, p) if p.error is None else None for p in pages]
            if pending is not None:
                finished.append(self._finish(*pending))  # device recognizes k-1 while workers crop k
            pending = (pages, post)
            while len(finished) > 1:
                yield from (f.result() for f in finished.pop(0))
        if pending is not None:
            finished.append(self._finish(*pending))
        for jobs in finished:
            yield from (f.result() for f in jobs)

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        """One ``PageResult`` per image; unusable or failing pages carry ``error`` instead of lines."""
        return list(self.recognize_stream(images))

    def close(self) -> None:
        """Stop the worker threads (the engine is unusable afterwards)."""
        self._pool.shutdown(wait=True)
