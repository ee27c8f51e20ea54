"""Feeding catalog pages to an engine: loaders that keep why a page could not be read, loading ahead.

Loading a page (object store read + decode) costs about as much as recognizing it on a GPU, so it must overlap
inference: engines with ``recognize_stream`` (the torch engine) call the loaders on their own worker threads;
for the others the next batch is loaded on a thread while the current one is recognized.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from dangan.errors import DanganError, TransientError
from dangan.ocr.engines.base import PageResult
from dangan.pii import scrub

INPUT_UNREADABLE = "OCR_INPUT_UNREADABLE"
Loader = Callable[[], np.ndarray | None]


class PageInputs:
    """Loaders for catalog pages; records each page's source object key or the reason it could not be loaded.

    A transient failure (store or catalog briefly unreachable) is kept and re-raised by :meth:`raise_transient`
    once the chunk's other pages are recorded, so the task is retried instead of the page being marked failed.
    """

    def __init__(self, load: Callable[[int], tuple[np.ndarray, str, float]]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self.sources: dict[int, str] = {}
        self.errors: dict[int, str] = {}
        self.transient: list[BaseException] = []
        self.transient_pages: set[int] = set()

    def loader(self, page_id: int) -> Loader:
        """A zero-argument callable returning the page image, or None (reason kept) if it cannot be read."""

        def load() -> np.ndarray | None:
            try:
                image, key, _ = self._load(page_id)
            except Exception as exc:  # one unreadable page: its own result says why, the chunk goes on
                with self._lock:
                    if isinstance(exc, TransientError):
                        self.transient.append(exc)
                        self.transient_pages.add(page_id)
                    detail = scrub(exc.message if isinstance(exc, DanganError) else str(exc))[:200]
                    self.errors[page_id] = f"{INPUT_UNREADABLE}: {type(exc).__name__}: {detail}"
                return None
            with self._lock:
                self.sources[page_id] = key
            return image

        return load

    def explain(self, page_id: int, result: PageResult) -> PageResult:
        """``result`` with the load failure as its error when the page could not be read."""
        error = self.errors.get(page_id)
        return replace(result, lines=[], error=error) if error else result

    def raise_transient(self) -> None:
        """Re-raise the first transient load failure, if any."""
        if self.transient:
            raise self.transient[0]


def recognized(
    engine: Any, page_ids: Sequence[int], inputs: PageInputs, batch: int
) -> Iterator[tuple[int, PageResult]]:
    """``(page id, result)`` in order, loading overlapped with recognition."""
    loaders = [inputs.loader(pid) for pid in page_ids]
    if hasattr(engine, "recognize_stream"):
        yield from zip(page_ids, engine.recognize_stream(loaders), strict=True)
        return
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ocr-load") as pool:
        ahead = [pool.submit(f) for f in loaders[:batch]]
        for start in range(0, len(page_ids), batch):
            current = ahead
            ahead = [pool.submit(f) for f in loaders[start + batch : start + 2 * batch]]
            images = [f.result() for f in current]
            yield from zip(page_ids[start : start + batch], engine.recognize(images), strict=True)
