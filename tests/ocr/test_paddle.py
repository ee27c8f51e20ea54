"""PaddleOCR engine (optional ``paddle`` extra): PaddleOCR's own pipeline on local folders built from the
bundled ONNX models, offline; accuracy, identity, bad pages, pins, and a clear error when not installed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from dangan.errors import ConfigError, OcrEngineUnavailable, OcrModelChecksumMismatch
from dangan.ocr.engines.models import find_model_files, sha256_file
from dangan.ocr.engines.options import PaddleOptions
from dangan.ocr.engines.paddle import PaddleModelDirs, PaddleOcrEngine, prepare_model_dirs
from tests.ocr.pages import FORM_LINES, cer, check_bad_pages_fail_alone, render_page, squash

ID = "11010519491231002X"
NEEDS_PADDLEOCR = "PaddleOCR is optional: pip install 'dangan[paddle]'"


def _opts(dirs: PaddleModelDirs, **values: object) -> PaddleOptions:
    """The engine's options for prepared folders, on the CPU."""
    return PaddleOptions.model_validate(
        {"det_dir": dirs.det, "rec_dir": dirs.rec, "cls_dir": dirs.cls, "device": "cpu", **values}
    )


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> PaddleModelDirs:
    pytest.importorskip("yaml", reason=NEEDS_PADDLEOCR)
    return prepare_model_dirs(tmp_path_factory.mktemp("paddle-models"))


@pytest.fixture(scope="module")
def engine(model_dirs) -> PaddleOcrEngine:
    pytest.importorskip("paddleocr", reason=NEEDS_PADDLEOCR)
    return PaddleOcrEngine(_opts(model_dirs, threads=2))


def test_reads_form_page_with_low_cer_and_exact_id(engine, form_image):
    [page] = engine.recognize([form_image])
    assert page.error is None
    assert cer(squash("".join(FORM_LINES)), squash(page.text())) <= 0.02, page.text()
    assert ID in page.text()
    assert "15,380.00" in page.text()
    assert [line.text[:2] for line in page.lines] == ["姓名", "公民", "缴费"]
    for line in page.lines:
        assert 0.5 <= line.confidence <= 1.0
        assert len(line.box) == 4
        (x0, y0), (x1, _), (_, y2), _ = line.box
        assert x0 < x1 and y0 < y2  # clockwise from top-left
        assert x0 >= 0 and x1 <= page.width and y2 <= page.height
    assert (page.width, page.height) == (form_image.shape[1], form_image.shape[0])
    assert page.engine == "paddle" and page.seconds > 0


def test_skewed_page_comes_back_in_reading_order(engine):
    rows = ["缴费年月 2019年07月", "个人缴费 1,230.40", "单位名称 某某县机械厂", "经办人 李四"]
    items = [(60 + 560 * (i % 2), 60 + 100 * (i // 2), t) for i, t in enumerate(rows)]
    [page] = engine.recognize([render_page(items, (1200, 300), rotate_deg=2.0)])
    assert page.error is None
    assert cer(squash("".join(rows)), squash(page.text())) <= 0.03, page.text()


def test_identity_records_model_folders_and_hashes(engine, model_dirs):
    ident = engine.identity()
    bundled = find_model_files()
    assert ident.engine == "paddle" and ident.device == "cpu"
    assert ident.model.startswith("PP-OCRv6_small det+rec@")
    assert ident.model.endswith("/onnxruntime") and "paddleocr-3." in ident.model
    digests = ident.model_sha256
    assert set(digests) == {"det_inference.onnx", "det_inference.yml", "rec_inference.onnx", "rec_inference.yml"}
    assert digests["det_inference.onnx"] == sha256_file(bundled.det)
    assert digests["rec_inference.yml"] == sha256_file(model_dirs.rec / "inference.yml")
    page = engine.recognize([np.full((64, 64, 3), 255, np.uint8)])[0]
    assert page.lines == [] and page.error is None
    assert (page.model, page.model_sha256, page.device) == (ident.model, digests, "cpu")


def test_bad_pages_in_the_middle_fail_alone(engine, form_image):
    check_bad_pages_fail_alone(engine, form_image, ID)


def test_page_that_crashes_the_pipeline_fails_alone(engine, form_image, monkeypatch):
    real = engine._pipeline.predict

    def flaky(page):
        if page.shape[0] == 77:
            raise RuntimeError("model exploded")
        return real(page)

    monkeypatch.setattr(engine._pipeline, "predict", flaky)
    results = engine.recognize([form_image, np.full((77, 300, 3), 255, np.uint8), form_image])
    assert [r.error is None for r in results] == [True, False, True]
    assert results[1].error.startswith("OCR_PAGE_FAILED: RuntimeError")
    assert ID in results[0].text() and ID in results[2].text()


def test_prepare_model_dirs_writes_paddleocr_folders_once(tmp_path):
    yaml = pytest.importorskip("yaml", reason=NEEDS_PADDLEOCR)
    dirs = prepare_model_dirs(tmp_path)
    assert dirs.cls is not None  # the bundled wheel ships the mobile line orientation model
    stamps = {p: p.stat().st_mtime_ns for d in (dirs.det, dirs.rec, dirs.cls) for p in d.iterdir()}
    assert {p.name for p in stamps} == {"inference.onnx", "inference.yml"}
    rec = yaml.safe_load((dirs.rec / "inference.yml").read_text(encoding="utf-8"))
    assert rec["Global"]["model_name"] == "PP-OCRv6_small_rec"
    assert len(rec["PostProcess"]["character_dict"]) == 18708  # rec output 18710 = blank + these + space
    assert prepare_model_dirs(tmp_path) == dirs
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten


def test_no_network_attempt_when_building_and_running(model_dirs, monkeypatch, form_image, tmp_path):
    pytest.importorskip("paddleocr", reason=NEEDS_PADDLEOCR)
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # folders prepared from the bundled models here
    engine = PaddleOcrEngine(PaddleOptions(device="auto", threads=2, use_cls=True))
    [page] = engine.recognize([form_image])
    assert ID in page.text()
    assert engine.capabilities.orientation is True and engine.dirs.det.is_relative_to(tmp_path)
    assert os.environ["PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK"] == "True" and os.environ["HF_HUB_OFFLINE"] == "1"
    assert attempts == []


def test_orientation_classifier_turns_upside_down_lines(model_dirs):
    pytest.importorskip("paddleocr", reason=NEEDS_PADDLEOCR)
    upside_down = np.ascontiguousarray(np.rot90(render_page([(40, 40, "缴费基数 15,380.00")], (700, 130)), 2))
    engine = PaddleOcrEngine(_opts(model_dirs, use_cls=True, threads=2))
    assert "缴费基数" in engine.recognize([upside_down])[0].text()


def test_checksum_pin_mismatch_raises_before_loading(model_dirs):
    pytest.importorskip("paddleocr", reason=NEEDS_PADDLEOCR)
    with pytest.raises(OcrModelChecksumMismatch) as info:
        PaddleOcrEngine(_opts(model_dirs, expected_model_sha256={"det_inference.onnx": "0" * 64}))
    assert info.value.details["file"] == "det_inference.onnx"
    with pytest.raises(ConfigError, match="not among"):
        PaddleOcrEngine(_opts(model_dirs, expected_model_sha256={"PP-OCRv6_det_small.onnx": "a" * 64}))


def test_folder_problems_are_clear(model_dirs, tmp_path):
    pytest.importorskip("paddleocr", reason=NEEDS_PADDLEOCR)
    (tmp_path / "det").mkdir()
    (tmp_path / "det" / "inference.onnx").write_bytes(b"x")
    with pytest.raises(OcrEngineUnavailable, match=r"inference\.yml"):
        PaddleOcrEngine(_opts(PaddleModelDirs(tmp_path / "det", model_dirs.rec)))
    with pytest.raises(OcrEngineUnavailable, match="cls"):
        PaddleOcrEngine(_opts(PaddleModelDirs(model_dirs.det, model_dirs.rec), use_cls=True))
    if find_spec("paddle") is None:
        with pytest.raises(OcrEngineUnavailable, match="paddlepaddle"):
            PaddleOcrEngine(_opts(model_dirs, runtime="paddle"))


def test_missing_paddleocr_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "paddleocr", None)  # import paddleocr now raises ImportError
    with pytest.raises(OcrEngineUnavailable) as info:
        PaddleOcrEngine(_opts(PaddleModelDirs(tmp_path, tmp_path)))
    assert info.value.code == "OCR_ENGINE_UNAVAILABLE"
    assert "pip install 'dangan[paddle]'" in str(info.value)


def test_module_imports_without_loading_paddleocr():
    code = "import sys, dangan.ocr.engines.paddle; assert not {'paddleocr', 'paddlex', 'paddle'} & set(sys.modules)"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env, timeout=60)
