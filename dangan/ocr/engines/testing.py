"""Engines for tests and drills: ``null`` (reads nothing) and ``fault`` (fails where told to).

``FaultEngine`` counts every page it is given across calls (0-based), so a retried batch gets new
indices: a page listed in ``fail_on_pages`` with ``raise_transient=True`` fails the call once and the retry
succeeds, like a real transient fault. ``die_on_page`` ends the process with status 137 (as if the worker
was OOM-killed) to exercise crash recovery.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from dangan.errors import OcrTransientFault
from dangan.ocr.engines.base import (
    FAULT_INJECTED,
    EngineCapabilities,
    EngineIdentity,
    OcrLine,
    PageResult,
    check_image,
    image_size,
    quad_from_bbox,
)
from dangan.ocr.engines.options import EngineOptions, FaultOptions

_CAPS = EngineCapabilities(batched=True, gpu=False, languages=(), line_boxes=True, orientation=False)


class NullEngine:
    """Validates pages like a real engine and returns no lines."""

    name = "null"
    capabilities = _CAPS

    def __init__(self, options: EngineOptions | None = None) -> None:
        del options  # nothing to tune: it runs on the CPU whatever the device asked
        self._id = EngineIdentity(self.name, "null", {}, "cpu")

    def identity(self) -> EngineIdentity:
        """Fixed identity (no model)."""
        return self._id

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        """An empty ``PageResult`` per good page, an error result per bad one."""
        out = []
        for image in images:
            _, error = check_image(image)
            out.append(self._id.page([], 0.0, *image_size(image), error))
        return out


class FaultEngine:
    """Marks, raises on, or dies at configured page indices; other pages get one line ``page <n>``."""

    name = "fault"
    capabilities = _CAPS

    def __init__(self, options: FaultOptions | None = None) -> None:
        o = options if options is not None else FaultOptions()
        self.fail_on_pages = o.fail_on_pages
        self.die_on_page = o.die_on_page
        self.raise_transient = o.raise_transient
        self.pages_seen = 0
        self._lock = threading.Lock()
        self._id = EngineIdentity(self.name, "fault", {}, "cpu")

    def identity(self) -> EngineIdentity:
        """Fixed identity (no model)."""
        return self._id

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        """Process pages in order, applying the configured faults by running page index."""
        with self._lock:
            first = self.pages_seen
            self.pages_seen += len(images)
        indices = range(first, first + len(images))
        if self.die_on_page is not None and self.die_on_page in indices:
            os._exit(137)
        if self.raise_transient and self.fail_on_pages.intersection(indices):
            hit = sorted(self.fail_on_pages.intersection(indices))
            raise OcrTransientFault(f"injected transient OCR fault at page index {hit[0]}", pages=hit)
        out = []
        for index, image in zip(indices, images, strict=True):
            w, h = image_size(image)
            _, error = check_image(image)
            if error is None and index in self.fail_on_pages:
                error = f"{FAULT_INJECTED}: injected failure at page index {index}"
            lines = [] if error else [OcrLine(f"page {index}", 1.0, quad_from_bbox(0.0, 0.0, float(w), float(h)))]
            out.append(self._id.page(lines, 0.0, w, h, error))
        return out
