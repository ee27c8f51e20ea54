"""Extraction fixtures: sample batches (session-scoped) and real PP-OCR results of one person's scans.

PP-OCR takes seconds per page on shared CPU cores, so results are computed once per session and also kept
in pytest's cache keyed by the file's SHA-256 and the engine's model digests (a changed scan or model misses).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from dangan.ocr import PageResult
from tests.extract.helpers import load_truths

SITE = "330106"


@pytest.fixture(scope="session")
def truth_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Four persons' clean documents (every ID label variant, one- and two-page statements), no scanning."""
    from dangan.samples import generate_samples

    out = tmp_path_factory.mktemp("truth")
    generate_samples(out, 4, seed=11, site=SITE, degrade=False, bad_files=False, dpi=(200,))
    return out, load_truths(out)


@pytest.fixture(scope="session")
def ocr_batch(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[Path, dict[str, dict[str, Any]], dict[str, list[PageResult]]]:
    """One person's degraded scans (skewed statement page, mixed formats) with real PP-OCR results."""
    from dangan.extract.images import ocr_file
    from dangan.ocr.engines.ppocr import PpOcrEngine
    from dangan.samples import generate_samples

    out = tmp_path_factory.mktemp("scans")
    generate_samples(out, 1, seed=5, site=SITE, degrade=True, bad_files=False, dpi=(200,))
    truths = load_truths(out)
    from dangan.ocr.engines.models import find_model_files, model_identity, verify_checksums

    files = find_model_files()
    models = model_identity(files, verify_checksums(files))
    engine: Any = None
    results: dict[str, list[PageResult]] = {}
    for name in truths:
        path = out / "scans" / name
        digest = hashlib.sha256(f"{models}\n".encode() + path.read_bytes()).hexdigest()
        key = f"dangan/extract-ocr/{digest[:32]}"
        cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
        cached = cache.get(key, None) if cache is not None else None
        if cached is not None:
            results[name] = [PageResult.from_json(p) for p in cached]
            continue
        engine = engine or PpOcrEngine(device="auto", threads=2)
        results[name] = ocr_file(path, engine)
        if cache is not None:
            cache.set(key, [p.to_json() for p in results[name]])
    return out, truths, results
