"""Physical-size plausibility of dpi metadata."""

from __future__ import annotations

import json

import pytest

from dangan.imaging import image_dpi_plausibility


def test_a4_at_300_dpi_is_plausible() -> None:
    r = image_dpi_plausibility(2480, 3508, 300)
    assert r["plausible"] is True and r["closest_size"] == "A4" and r["effective_dpi"] == 300.0
    assert r["size_mm"] == pytest.approx((210.0, 297.0), abs=0.5)
    json.dumps(r, ensure_ascii=False)


def test_default_72_dpi_metadata_is_flagged_with_effective_estimate() -> None:
    r = image_dpi_plausibility(2480, 3508, 72)
    assert r["plausible"] is False
    assert r["effective_dpi"] == 300.0 and r["estimated_size"] == "A4"
    assert "probably wrong" in r["message"] and "300" in r["message"]


def test_96_dpi_on_a_200_dpi_landscape_scan() -> None:
    r = image_dpi_plausibility(2339, 1654, (96, 96))  # A4 landscape at 200 dpi
    assert r["plausible"] is False and r["effective_dpi"] == 200.0


@pytest.mark.parametrize(
    ("size_mm", "name"), [((185, 260), "16开"), ((176, 250), "B5"), ((297, 420), "A3"), ((215.9, 279.4), "letter")]
)
def test_closest_standard_size(size_mm: tuple[float, float], name: str) -> None:
    w, h = (round(mm / 25.4 * 300) for mm in size_mm)
    r = image_dpi_plausibility(w, h, 300)
    assert r["closest_size"] == name and r["plausible"] is True
    assert r["estimated_size"] == name and r["estimated_dpi"] == 300.0


def test_no_dpi_gives_estimate_only() -> None:
    r = image_dpi_plausibility(1654, 2339, None)
    assert r["plausible"] is None and r["size_mm"] is None
    assert (r["estimated_size"], r["effective_dpi"]) == ("A4", 200.0)
    assert image_dpi_plausibility(1000, 1000, None)["effective_dpi"] is None  # square: no standard paper


def test_small_genuine_slip_is_plausible() -> None:
    r = image_dpi_plausibility(945, 591, 300)  # an 80 x 50 mm receipt
    assert r["plausible"] is True and r["effective_dpi"] == 300.0


def test_absurd_sizes_are_implausible() -> None:
    assert image_dpi_plausibility(1000, 1000, 10)["plausible"] is False  # 2.5 m
    assert image_dpi_plausibility(100, 120, 1200)["plausible"] is False  # 2.5 mm
