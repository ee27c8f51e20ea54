"""Physical paper size from pixels and dpi: catches scanners that write default (72/96 dpi) metadata."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["COMMON_DPI", "STANDARD_SIZES_MM", "DpiPlausibility", "image_dpi_plausibility"]

#: Portrait (short, long) sizes in mm. B5 is GB/T 148 (= ISO) B5; 16开 is the common Chinese "big 16" format.
STANDARD_SIZES_MM: dict[str, tuple[float, float]] = {
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
    "A5": (148.0, 210.0),
    "B5": (176.0, 250.0),
    "16开": (185.0, 260.0),
    "letter": (215.9, 279.4),
}
#: Scanner resolutions an estimate is snapped to when within 4 %.
COMMON_DPI = (100, 150, 200, 240, 300, 400, 600, 1200)
_MIN_LONG_MM, _MAX_LONG_MM = 40.0, 650.0  # a bus ticket .. bigger than A2: anything outside is not a real page
_DEFAULT_DPIS = 96.0  # 72 and 96 dpi are what software writes when it does not know
_ASPECT_TOL = 0.03


def _as_pair(dpi: float | tuple[float, float] | None) -> tuple[float, float] | None:
    if dpi is None:
        return None
    x, y = (dpi, dpi) if isinstance(dpi, int | float) else dpi
    return (float(x), float(y)) if x and y and x > 0 and y > 0 else None


def _snap(dpi: float) -> float | None:
    for common in COMMON_DPI:
        if abs(dpi - common) <= 0.04 * common:
            return float(common)
    return None


def _estimate(short_px: int, long_px: int) -> tuple[str, float] | None:
    """(size name, dpi) when the pixel aspect ratio matches a standard paper size.

    A-series sizes share one aspect ratio, so candidates are ranked by whether their dpi is a usual scanner
    setting, then by aspect error, then by how common the size is (dict order).
    """
    ratio = long_px / short_px
    candidates = []
    for rank, (name, (s_mm, l_mm)) in enumerate(STANDARD_SIZES_MM.items()):
        err = abs(ratio - l_mm / s_mm) / (l_mm / s_mm)
        dpi = (short_px / s_mm + long_px / l_mm) / 2 * 25.4
        if err <= _ASPECT_TOL:
            snapped = _snap(dpi)
            candidates.append((snapped is None, round(err, 2), rank, name, snapped or round(dpi, 1)))
    if not candidates:
        return None
    best = min(candidates)
    return best[3], best[4]


class DpiPlausibility(TypedDict):
    """What ``image_dpi_plausibility`` concludes (see there)."""

    size_mm: tuple[float, float] | None
    closest_size: str | None
    size_error: float | None
    estimated_dpi: float | None
    estimated_size: str | None
    plausible: bool | None
    effective_dpi: float | None
    message: str


def image_dpi_plausibility(
    width_px: float, height_px: float, dpi: float | tuple[float, float] | None
) -> DpiPlausibility:
    """Judge whether ``dpi`` metadata gives a believable physical size for a ``width_px`` x ``height_px`` scan.

    Returns a JSON-ready dict:

    - ``size_mm``: (width, height) implied by the metadata dpi, or None without dpi;
    - ``closest_size`` / ``size_error``: nearest standard size (A4, A3, A5, B5, 16开, letter; either
      orientation) and the relative error of the long and short sides (max of both);
    - ``estimated_dpi`` / ``estimated_size``: dpi implied by the pixel aspect ratio matching a standard size
      (snapped to common scanner values), or None when no standard aspect ratio fits;
    - ``plausible``: True/False for metadata dpi, None when there is none. Implausible means the implied page
      is under 40 mm or over 650 mm long, or the dpi is a software default (<= 96) while the pixels fit a
      standard page at >= 150 dpi;
    - ``effective_dpi``: the metadata dpi (mean of both axes) when plausible, else the estimate (or None);
    - ``message``: a short human explanation.
    """
    pair = _as_pair(dpi)
    short_px, long_px = sorted((int(width_px), int(height_px)))
    est = _estimate(short_px, long_px) if short_px > 0 else None
    result: DpiPlausibility = {
        "size_mm": None,
        "closest_size": None,
        "size_error": None,
        "estimated_dpi": est[1] if est else None,
        "estimated_size": est[0] if est else None,
        "plausible": None,
        "effective_dpi": est[1] if est else None,
        "message": "no dpi metadata" + (f"; pixels fit {est[0]} at ~{est[1]:g} dpi" if est else ""),
    }
    if pair is None or short_px <= 0:
        return result
    w_mm, h_mm = width_px / pair[0] * 25.4, height_px / pair[1] * 25.4
    s_mm, l_mm = sorted((w_mm, h_mm))
    name, err = min(
        ((n, max(abs(s_mm - s) / s, abs(l_mm - lg) / lg)) for n, (s, lg) in STANDARD_SIZES_MM.items()),
        key=lambda item: item[1],
    )
    mean_dpi = (pair[0] + pair[1]) / 2
    plausible = _MIN_LONG_MM <= l_mm <= _MAX_LONG_MM
    if plausible and est is not None and mean_dpi <= _DEFAULT_DPIS and est[1] >= 150:
        plausible = False
    result["size_mm"] = (round(w_mm, 1), round(h_mm, 1))
    result["closest_size"] = name
    result["size_error"] = round(err, 3)
    result["plausible"] = plausible
    if plausible:
        result["effective_dpi"] = round(mean_dpi, 1)
    if plausible:
        result["message"] = f"{w_mm:.0f}x{h_mm:.0f} mm at {mean_dpi:g} dpi, closest {name}"
    else:
        guess = f", effective ~{est[1]:g} dpi ({est[0]})" if est else ""
        result["message"] = (
            f"{mean_dpi:g} dpi would make the page {w_mm:.0f}x{h_mm:.0f} mm: dpi metadata probably wrong{guess}"
        )
    return result
