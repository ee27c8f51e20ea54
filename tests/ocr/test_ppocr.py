"""PP-OCR engine on the bundled ONNX models: accuracy, batch isolation, model pinning, offline, device."""

from __future__ import annotations

import logging
import shutil
import socket

import numpy as np
import pytest

from dangan.errors import ConfigError, OcrEngineUnavailable, OcrModelChecksumMismatch
from dangan.ocr import OcrOptions, create_engine
from dangan.ocr.engines.models import find_model_files, sha256_file
from dangan.ocr.engines.ppocr import PpOcrEngine
from tests.ocr.pages import FORM_LINES, cer, check_bad_pages_fail_alone, squash

ID = "11010519491231002X"


def test_reads_form_page_with_low_cer_and_exact_id(ppocr_engine, form_image):
    [page] = ppocr_engine.recognize([form_image])
    assert page.error is None
    assert cer(squash("".join(FORM_LINES)), squash(page.text())) <= 0.02, page.text()
    assert ID in page.text()
    assert "15,380.00" in page.text()
    assert [line.text.split()[0][:2] for line in page.lines] == ["姓名", "公民", "缴费"]
    for line in page.lines:
        assert 0.5 <= line.confidence <= 1.0
        assert len(line.box) == 4
        (x0, y0), (x1, _), (_, y2), _ = line.box
        assert x0 < x1 and y0 < y2  # clockwise from top-left
        assert x0 >= 0 and x1 <= page.width and y2 <= page.height
    assert (page.width, page.height) == (form_image.shape[1], form_image.shape[0])
    assert page.engine == "ppocr" and page.seconds > 0


def test_identity_records_models_and_hashes(ppocr_engine):
    ident = ppocr_engine.identity()
    files = find_model_files()
    assert ident.engine == "ppocr"
    assert ident.model.startswith("PP-OCRv6_small det+rec@")
    assert ident.model_sha256 == {files.det.name: sha256_file(files.det), files.rec.name: sha256_file(files.rec)}
    page = ppocr_engine.recognize([np.full((64, 64, 3), 255, np.uint8)])[0]
    assert page.lines == [] and page.error is None
    assert (page.model, page.model_sha256, page.device) == (ident.model, ident.model_sha256, ident.device)


def test_bad_pages_in_the_middle_fail_alone(ppocr_engine, form_image):
    check_bad_pages_fail_alone(ppocr_engine, form_image, ID)


def test_page_that_crashes_the_model_fails_alone(ppocr_engine, form_image, monkeypatch):
    real = ppocr_engine.detector.detect

    def flaky(pages):
        if any(p.shape[0] == 77 for p in pages):
            raise RuntimeError("model exploded")
        return real(pages)

    monkeypatch.setattr(ppocr_engine, "det_batch", 3)
    monkeypatch.setattr(ppocr_engine.detector, "detect", flaky)
    odd = np.full((77, 300, 3), 255, np.uint8)
    results = ppocr_engine.recognize([form_image, odd, form_image])
    assert [r.error is None for r in results] == [True, False, True]
    assert results[1].error.startswith("OCR_PAGE_FAILED: RuntimeError")
    assert ID in results[0].text() and ID in results[2].text()


def test_det_batch_gives_same_text_as_single_pages(ppocr_engine, form_image, monkeypatch):
    small = np.ascontiguousarray(form_image[:200, :700])
    single = [ppocr_engine.recognize([img])[0] for img in (form_image, small)]
    monkeypatch.setattr(ppocr_engine, "det_batch", 2)
    batched = ppocr_engine.recognize([form_image, small])
    assert [p.text() for p in batched] == [p.text() for p in single]
    assert "姓名张三" in squash(batched[1].text())


def test_checksum_pin_mismatch_raises_at_construction():
    det = find_model_files().det
    with pytest.raises(OcrModelChecksumMismatch) as info:
        PpOcrEngine(device="cpu", expected_model_sha256={det.name: "0" * 64})
    assert info.value.code == "OCR_MODEL_CHECKSUM"
    assert info.value.details["file"] == det.name


def test_tampered_model_in_model_dir_is_caught(tmp_path):
    files = find_model_files()
    pins = {files.det.name: sha256_file(files.det), files.rec.name: sha256_file(files.rec)}
    for f in (files.det, files.rec):
        (tmp_path / f.name).symlink_to(f)
    engine = create_engine(OcrOptions(engine="ppocr", device="cpu", model_dir=tmp_path, expected_model_sha256=pins))
    assert engine.identity().model_sha256 == pins
    # Same name, one byte changed: a silently swapped model must not load.
    (tmp_path / files.det.name).unlink()
    shutil.copyfile(files.det, tmp_path / files.det.name)
    with (tmp_path / files.det.name).open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(OcrModelChecksumMismatch):
        create_engine(OcrOptions(engine="ppocr", device="cpu", model_dir=tmp_path, expected_model_sha256=pins))


def test_bundled_models_are_checked_against_the_pinned_digests(tmp_path):
    """No pins configured: the bundled files must be the ones dangan ships digests for."""
    from dataclasses import replace

    from dangan.ocr.engines.models import BUNDLED_SHA256, verify_checksums

    files = find_model_files()
    assert files.bundled and verify_checksums(files)[files.det.name] == BUNDLED_SHA256[files.det.name]
    damaged = tmp_path / files.det.name  # what a damaged or swapped bundled file looks like
    damaged.write_bytes(files.det.read_bytes()[:-1] + b"\x00")
    with pytest.raises(OcrModelChecksumMismatch) as info:
        verify_checksums(replace(files, det=damaged))
    assert info.value.details["file"] == files.det.name and "rapidocr==3.10.0" in (info.value.hint or "")
    assert verify_checksums(replace(files, det=damaged, bundled=False))  # a model_dir is the user's to pin
    renamed = tmp_path / "PP-OCRv7_det_small.onnx"  # an upgrade that renames its models is not waved through
    renamed.write_bytes(b"new model")
    with pytest.raises(OcrModelChecksumMismatch, match="no digest"):
        verify_checksums(replace(files, det=renamed))


def test_ocr_settings_reach_the_engine(tmp_path):
    """``[ocr]`` options (pinned checksums, tuning) are what the flows and `dangan ocr` build engines with."""
    from dangan.config import load_settings
    from tasks.ocr import ocr_options

    det = find_model_files().det
    cfg = load_settings(
        data_dir=tmp_path, ocr={"expected_model_sha256": {det.name: "0" * 64}, "det_limit_side_len": 960}
    )
    options = ocr_options(cfg, None, "cpu")
    assert options.engine_options.det_limit_side_len == 960 and options.device == "cpu"
    with pytest.raises(OcrModelChecksumMismatch):
        create_engine(options)
    with pytest.raises(ValueError, match="unknown \\[ocr\\] setting"):
        load_settings(data_dir=tmp_path, ocr={"det_limit": 960})


def test_model_dir_problems_are_clear(tmp_path):
    with pytest.raises(OcrEngineUnavailable, match="det"):
        PpOcrEngine(tmp_path, device="cpu")
    files = find_model_files()
    for f in (files.det, files.rec):
        (tmp_path / f.name).symlink_to(f)
    with pytest.raises(ConfigError, match="not among the model files"):
        PpOcrEngine(tmp_path, device="cpu", expected_model_sha256={"other.onnx": "a" * 64})
    with pytest.raises(OcrEngineUnavailable, match="cls"):
        PpOcrEngine(tmp_path, device="cpu", use_cls=True)


def test_no_network_attempt_when_building_and_running(monkeypatch, form_image):
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    engine = create_engine(OcrOptions(engine="ppocr", device="auto", use_cls=True))
    [page] = engine.recognize([form_image])
    assert ID in page.text()
    assert engine.capabilities.orientation is True
    assert attempts == []


def test_orientation_classifier_turns_upside_down_lines():
    from tests.ocr.pages import render_page

    upside_down = np.ascontiguousarray(np.rot90(render_page([(40, 40, "缴费基数 15,380.00")], (700, 130)), 2))
    engine = PpOcrEngine(device="cpu", use_cls=True)
    assert "缴费基数" in engine.recognize([upside_down])[0].text()


def test_device_auto_falls_back_to_cpu_and_says_why(monkeypatch, caplog):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.INFO, logger="dangan.ocr"):
        engine = PpOcrEngine(device="auto")
    assert engine.identity().device == "cpu"
    assert engine.capabilities.gpu is False
    assert "CPU" in caplog.text and "CUDAExecutionProvider" in caplog.text
    with pytest.raises(OcrEngineUnavailable, match="cuda"):
        PpOcrEngine(device="cuda")


def test_cuda_listed_but_not_loadable_is_detected(monkeypatch):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a real CUDA provider is present; the fallback probe is exercised on CPU-only hosts")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    engine = PpOcrEngine(device="auto")
    assert engine.identity().device == "cpu"
    assert "fell back" in engine.device_reason or "failed" in engine.device_reason


def test_every_constructor_keyword_is_an_option():
    """``from_options`` passes each ``PpOcrOptions`` field of the keyword's name: no option copied by hand."""
    from dangan.ocr.engines.options import PpOcrOptions
    from dangan.ocr.engines.ppocr import _PARAMS

    assert set(_PARAMS) <= set(PpOcrOptions.model_fields) and "det_limit_side_len" in _PARAMS
