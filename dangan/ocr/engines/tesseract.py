"""Tesseract engine (pytesseract ``image_to_data``): the CPU fallback and cross-check engine.

Words are grouped into lines by Tesseract's (block, paragraph, line) numbers. Chinese words are joined
without spaces; a space is kept only between two words that meet on Latin letters or digits. Use psm 3
(automatic layout): psm 6 drops rows of ruled tables (measured CER ~67 % vs ~12 %).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dangan.errors import OcrEngineUnavailable
from dangan.ocr.engines.base import (
    EngineCapabilities,
    EngineIdentity,
    OcrLine,
    PageResult,
    quad_from_bbox,
    recognize_each,
)
from dangan.ocr.engines.layout import reading_order
from dangan.ocr.engines.models import sha256_file
from dangan.ocr.engines.normalize import normalize_text
from dangan.ocr.engines.options import TesseractOptions

log = logging.getLogger("dangan.ocr")

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-chi-sim"


def estimate_dpi(width: int, height: int) -> int:
    """Resolution of an A4-class page from its pixel size (the array carries no dpi).

    Without ``--dpi`` Tesseract guesses from the image and misreads 300-dpi pages badly (measured on the
    sample registration forms: CER 58% without, 5.5% with ``--dpi 300``). Derivatives are cropped to the
    sheet, so the long side is close to 297 mm.
    """
    long_side_in = 297 / 25.4
    return max(70, min(1200, round(max(width, height) / long_side_in)))


def _latin(ch: str) -> bool:

    return ch.isascii() and ch.isalnum()


def join_words(words: Sequence[str]) -> str:
    """Join a line's words: no space next to CJK text, one space between Latin/digit words."""
    out = ""
    for word in words:
        if out and _latin(out[-1]) and _latin(word[0]):
            out += " "
        out += word
    return out


def group_lines(data: dict[str, list[Any]], min_confidence: float = 0.0) -> list[OcrLine]:
    """``OcrLine``s from ``image_to_data`` output (``Output.DICT``), in Tesseract's order."""
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, text in enumerate(data["text"]):
        if int(data["level"][i]) != 5 or not str(text).strip():
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        groups.setdefault(key, []).append(i)
    lines = []
    for idx in groups.values():
        idx.sort(key=lambda i: int(data["left"][i]))
        text = normalize_text(join_words([str(data["text"][i]).strip() for i in idx]))
        confs = [float(data["conf"][i]) for i in idx if float(data["conf"][i]) >= 0]
        conf = (sum(confs) / len(confs) / 100.0) if confs else 0.0
        if not text or conf < min_confidence:
            continue
        x0 = min(int(data["left"][i]) for i in idx)
        y0 = min(int(data["top"][i]) for i in idx)
        x1 = max(int(data["left"][i]) + int(data["width"][i]) for i in idx)
        y1 = max(int(data["top"][i]) + int(data["height"][i]) for i in idx)
        box = quad_from_bbox(float(x0), float(y0), float(x1), float(y1))
        lines.append(OcrLine(text=text, confidence=round(conf, 5), box=box))
    return lines


def _traineddata_digests(cmd: str, langs: Sequence[str]) -> dict[str, str]:
    """SHA-256 of each language's ``.traineddata`` file, found via ``tesseract --list-langs``; {} if unknown."""
    try:
        out = subprocess.run([cmd, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    match = re.search(r'"([^"]+)"', out.stdout + out.stderr)
    if not match:
        return {}
    folder = Path(match.group(1))
    files = [folder / f"{code}.traineddata" for code in langs]
    return {f.name: sha256_file(f) for f in files if f.is_file()}


class TesseractEngine:
    """Tesseract via pytesseract; checks binary and language data at construction."""

    name = "tesseract"

    #: Seconds one page may take before its Tesseract process is stopped.
    timeout_s = 600.0

    def __init__(self, options: TesseractOptions | None = None) -> None:
        import pytesseract

        o = options if options is not None else TesseractOptions()
        lang = o.lang
        self.dpi = o.dpi
        self.workers = o.workers or os.cpu_count() or 1
        self._cmd = str(pytesseract.pytesseract.tesseract_cmd)

        self._pt = pytesseract
        try:
            version = str(pytesseract.get_tesseract_version())
            installed = set(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, OSError) as exc:
            raise OcrEngineUnavailable(
                f"the tesseract binary was not found ({type(exc).__name__})", hint=INSTALL_HINT
            ) from exc
        missing = [code for code in lang.split("+") if code not in installed]
        if missing:
            raise OcrEngineUnavailable(
                f"tesseract language data missing: {', '.join(missing)} (installed: {sorted(installed)})",
                hint=INSTALL_HINT + (" tesseract-ocr-eng" if "eng" in missing else ""),
            )
        self.lang, self.psm, self.min_confidence = lang, o.psm, o.min_confidence
        digests = _traineddata_digests(pytesseract.pytesseract.tesseract_cmd, lang.split("+"))
        self._id = EngineIdentity(self.name, f"tesseract {version} {lang} psm{o.psm}", digests, "cpu")
        self.capabilities = EngineCapabilities(
            batched=False,
            gpu=False,
            languages=tuple(lang.split("+")),
            line_boxes=True,
            orientation=False,
        )

    def identity(self) -> EngineIdentity:
        """Engine, binary version + language + psm as the model, device cpu."""
        return self._id

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        """One ``PageResult`` per image; ``workers`` pages at once, one single-threaded Tesseract each."""
        return recognize_each(self._id, images, self._read, label="tesseract", workers=self.workers)

    def _read(self, rgb: np.ndarray) -> list[OcrLine]:
        h, w = rgb.shape[:2]
        args = ["-l", self.lang, "--psm", str(self.psm), "--dpi", str(self.dpi or estimate_dpi(w, h)), "tsv"]
        with tempfile.TemporaryDirectory(prefix="dangan-tesseract-") as tmp:
            page = Path(tmp) / "page.png"
            Image.fromarray(rgb).save(page)
            # pytesseract cannot pass an environment: the binary is run here so that OMP_THREAD_LIMIT=1 holds
            # for it alone (OpenMP in Tesseract costs 2.5x the CPU per page for a little latency)
            done = subprocess.run(
                [self._cmd, str(page), "stdout", *args],
                env={**os.environ, "OMP_THREAD_LIMIT": "1"},
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip()[-300:]
            raise RuntimeError(f"tesseract exited {done.returncode}: {tail}")
        data = self._pt.pytesseract.file_to_dict(done.stdout.decode("utf-8", "replace"), "\t", -1)
        return reading_order(group_lines(data, self.min_confidence)) if data else []
