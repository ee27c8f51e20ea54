"""Page orientation: pages fed sideways or upside down are turned upright before recognition (real ppocr engine)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from dangan.ocr.engines.base import PageResult
from dangan.ocr.orientation import orient_page, rotate_detections, rotate_points, rotate_upright, tall_share
from dangan.ocr.quality import page_quality
from tests.ocr.pages import FORM_LINES, cer, form_page, squash

# the page as scanned, turned this many degrees clockwise from upright
TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
EXPECTED = squash("".join(FORM_LINES))


def scanned(page: np.ndarray, angle: int) -> np.ndarray:
    """``page`` as a scanner would deliver it fed ``angle``° clockwise from upright."""
    return page if angle == 0 else np.ascontiguousarray(cv2.rotate(page, TURN[angle]))


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_rotate_upright_and_points_agree(angle):
    """A pixel's coordinates mapped by ``rotate_points`` land on the same pixel of the turned-back image."""
    page = np.zeros((40, 70), np.uint8)
    page[5, 60] = 255  # one bright pixel at (x=60, y=5) on the upright page
    scan = scanned(page, angle)
    y, x = (int(v[0]) for v in np.nonzero(scan))
    h, w = scan.shape
    ux, uy = rotate_points(np.array([[x, y]], np.float32), angle, w, h)[0]
    assert (int(ux), int(uy)) == (60, 5)
    assert np.array_equal(rotate_upright(scan, angle), page)


def test_rotated_boxes_stay_clockwise_from_top_left():
    quad = np.array([[10, 20], [110, 20], [110, 40], [10, 40]], np.float32)  # wide box
    [(back, score)] = rotate_detections([(quad, 0.9)], 180, 200, 100)
    assert score == 0.9 and back.tolist() == [[89, 59], [189, 59], [189, 79], [89, 79]]
    assert tall_share([(quad, 1.0)]) == 0.0
    [(tall, _)] = rotate_detections([(quad, 1.0)], 90, 200, 100)
    assert tall_share([(tall, 1.0)]) == 1.0


def test_a_page_without_text_has_no_orientation_to_find():
    blank = np.full((300, 400, 3), 255, np.uint8)
    found = orient_page(blank, [], detect=lambda _: pytest.fail("no detection needed"), classify=np.zeros)
    assert (found.orientation.angle, found.orientation.confidence, found.orientation.method) == (0, 0.0, "no-text")


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_turned_pages_read_upright_with_the_angle(ppocr_engine, angle):
    page = form_page()
    result = ppocr_engine.recognize([scanned(page, angle)])[0]
    assert result.ok, result.error
    assert result.orientation == angle and result.orientation_confidence >= 0.9
    assert cer(EXPECTED, squash(result.text())) <= 0.02, result.text()
    # boxes are of the upright page: its size, lines top to bottom
    assert (result.width, result.height) == (page.shape[1], page.shape[0])
    tops = [min(y for _, y in line.box) for line in result.lines]
    assert tops == sorted(tops) and all(0 <= x <= result.width for line in result.lines for x, _ in line.box)
    quality = page_quality(result)
    assert quality is not None and quality.codes == () and quality.orientation == angle


@pytest.fixture(scope="module")
def engine_without_orientation():
    from dangan.ocr.engines.ppocr import PpOcrEngine

    return PpOcrEngine(device="auto", threads=2, det_limit_side_len=1280, rec_min_width=160, page_orientation=False)


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_with_orientation_off_a_turned_page_gets_a_code_not_silent_garbage(engine_without_orientation, angle):
    result = engine_without_orientation.recognize([scanned(form_page(), angle)])[0]
    assert result.orientation_confidence is None and result.orientation == 0  # not measured
    quality = page_quality(result)
    assert quality is not None and quality.codes, (angle, quality)
    upright = page_quality(engine_without_orientation.recognize([form_page()])[0])
    assert upright is not None and upright.codes == ()


def test_results_keep_orientation_through_json_and_old_rows_default():
    result = PageResult([], "ppocr", "m", {}, "cpu", 0.1, 10, 20, orientation=270, orientation_confidence=0.97)
    again = PageResult.from_json(json.loads(json.dumps(result.to_json())))
    assert (again.orientation, again.orientation_confidence) == (270, 0.97)
    old = {k: v for k, v in result.to_json().items() if k not in ("orientation", "orientation_confidence")}
    assert (PageResult.from_json(old).orientation, PageResult.from_json(old).orientation_confidence) == (0, None)


def test_cli_json_reports_orientation_180_and_no_code(tmp_path: Path) -> None:
    from cli.app import app

    img = tmp_path / "upside-down.png"
    Image.fromarray(scanned(form_page(), 180)).save(img, dpi=(300, 300))
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "d"), "ocr", str(img), "--json"])
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert row["orientation"] == 180 and row["orientation_confidence"] >= 0.9
    assert row["codes"] == [] and row["quality"]["codes"] == []
    assert "11010519491231002X" in "".join(line["text"] for line in row["lines"])
