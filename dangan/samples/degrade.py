"""Scanner degradations for sample pages, each recorded as a dict so QA checks can be scored against them.

Kinds: ``illumination`` (uneven lamp, ``strength`` 0-1), ``skew`` (``angle_deg``, counter-clockwise positive,
as ``PIL.Image.rotate``), ``border`` (dark scanner-lid bands, ``sides`` and ``width_mm``), ``blur``
(Gaussian, ``radius_px``), ``noise`` (Gaussian, ``sigma`` in grey levels), ``jpeg`` (re-encoding artefacts,
``quality``). They are always applied in that order, whatever order they were planned in.
"""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

ORDER = ("illumination", "skew", "border", "blur", "noise", "jpeg")
BED = (236, 236, 232)  # scanner-bed colour that shows where a skewed page leaves the corners uncovered
STRONG_SKEW_DEG = 5.0


def plan(rng: random.Random, *, strong_skew: bool = False) -> list[dict[str, Any]]:
    """One to three random degradations; ``strong_skew`` adds a ~5° skew meant to fail the QA skew gate."""
    kinds = rng.sample(ORDER, rng.randint(1, 3))
    if strong_skew and "skew" not in kinds:
        kinds.append("skew")
    steps: list[dict[str, Any]] = []
    for kind in kinds:
        sign = rng.choice((-1, 1))
        if kind == "skew":
            magnitude = STRONG_SKEW_DEG + rng.uniform(-0.2, 0.2) if strong_skew else rng.uniform(0.5, 2.5)
            steps.append({"kind": kind, "angle_deg": round(sign * magnitude, 2)})
        elif kind == "illumination":
            steps.append({"kind": kind, "strength": round(rng.uniform(0.15, 0.35), 2), "from": rng.choice("lrtb")})
        elif kind == "border":
            sides = rng.sample(("left", "right", "top", "bottom"), rng.randint(1, 2))
            steps.append({"kind": kind, "sides": sorted(sides), "width_mm": round(rng.uniform(3, 8), 1)})
        elif kind == "blur":
            steps.append({"kind": kind, "radius_px": round(rng.uniform(0.6, 1.4), 2)})
        elif kind == "noise":
            steps.append({"kind": kind, "sigma": round(rng.uniform(5, 12), 1)})
        else:
            steps.append({"kind": kind, "quality": rng.randint(20, 40)})
    return sorted(steps, key=lambda s: ORDER.index(s["kind"]))


def apply(image: Image.Image, steps: list[dict[str, Any]], dpi: int, seed: int) -> Image.Image:
    """Apply planned ``steps`` to an RGB or greyscale page (returns a new image, same size and mode)."""
    out = image
    grey = image.mode == "L"
    for step in sorted(steps, key=lambda s: ORDER.index(s["kind"])):
        kind = step["kind"]
        if kind == "illumination":
            out = _illumination(out, step["strength"], step["from"])
        elif kind == "skew":
            out = out.rotate(step["angle_deg"], Image.Resampling.BILINEAR, fillcolor=BED[0] if grey else BED)
        elif kind == "border":
            out = _border(out, step["sides"], round(step["width_mm"] * dpi / 25.4))
        elif kind == "blur":
            out = out.filter(ImageFilter.GaussianBlur(step["radius_px"]))
        elif kind == "noise":
            out = _noise(out, step["sigma"], seed)
        elif kind == "jpeg":
            buffer = io.BytesIO()
            out.save(buffer, "JPEG", quality=step["quality"])
            out = Image.open(io.BytesIO(buffer.getvalue())).convert(out.mode)
    return out


def _illumination(image: Image.Image, strength: float, side: str) -> Image.Image:
    # A small gradient scaled up is as good as a full-size one and far cheaper.
    ramp = np.linspace(1.0, 1.0 - strength, 64, dtype=np.float32)
    grid = np.tile(ramp, (64, 1)) if side in "lr" else np.tile(ramp[:, None], (1, 64))
    if side in "rb":
        grid = grid[::-1, ::-1]
    shade = Image.fromarray((grid * 255).astype(np.uint8)).resize(image.size, Image.Resampling.BILINEAR)
    return ImageChops.multiply(image, shade if image.mode == "L" else shade.convert(image.mode))


def _border(image: Image.Image, sides: list[str], width: int) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    boxes = {
        "left": (0, 0, width, h),
        "right": (w - width, 0, w, h),
        "top": (0, 0, w, width),
        "bottom": (0, h - width, w, h),
    }
    for side in sides:
        draw.rectangle(boxes[side], fill=38 if out.mode == "L" else (38, 38, 40))
    return out


def _noise(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((image.height, image.width), dtype=np.float32) * sigma + 128
    layer = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))
    if image.mode != "L":
        layer = Image.merge(image.mode, [layer] * len(image.mode))
    # PIL adds in C with clipping: image + layer - 128 is image plus zero-mean noise.
    return ImageChops.add(image, layer, scale=1.0, offset=-128)
