"""null and fault engines, the registry and option validation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from dangan.errors import ConfigError, OcrTransientFault, is_transient
from dangan.ocr import EngineCapabilities, OcrEngine, OcrOptions, available_engines, create_engine, register_engine
from dangan.ocr.engines.testing import FaultEngine, NullEngine

PAGE = np.full((20, 30, 3), 255, np.uint8)


def test_null_engine_returns_no_lines_but_validates_pages():
    engine = create_engine({"engine": "null"})
    assert isinstance(engine, NullEngine) and isinstance(engine, OcrEngine)
    results = engine.recognize([PAGE, None])
    assert results[0].lines == [] and results[0].error is None
    assert (results[0].width, results[0].height) == (30, 20)
    assert results[1].error.startswith("OCR_EMPTY_IMAGE")
    assert engine.identity().as_dict() == {"engine": "null", "model": "null", "model_sha256": {}, "device": "cpu"}


def test_fault_engine_marks_configured_pages_across_calls():
    engine = FaultEngine(fail_on_pages={1, 3})
    first = engine.recognize([PAGE, PAGE])
    second = engine.recognize([PAGE, PAGE, None])
    assert [r.error is None for r in first + second] == [True, False, True, False, False]
    assert first[1].error.startswith("OCR_FAULT_INJECTED") and first[1].lines == []
    assert second[2].error.startswith("OCR_EMPTY_IMAGE")
    assert first[0].text() == "page 0" and second[0].text() == "page 2"


def test_fault_engine_transient_raise_then_retry_succeeds():
    engine = create_engine(OcrOptions(engine="fault", fault={"fail_on_pages": {1}, "raise_transient": True}))
    with pytest.raises(OcrTransientFault) as info:
        engine.recognize([PAGE, PAGE])
    assert is_transient(info.value)
    retry = engine.recognize([PAGE, PAGE])  # indices 2, 3: the fault has passed
    assert all(r.error is None for r in retry)


def test_fault_engine_die_on_page_kills_the_process():
    code = (
        "import numpy as np\n"
        "from dangan.ocr.engines.testing import FaultEngine\n"
        "e = FaultEngine(die_on_page=2)\n"
        "e.recognize([np.zeros((5, 5), np.uint8)] * 2)\n"
        "print('survived first batch', flush=True)\n"
        "e.recognize([np.zeros((5, 5), np.uint8)])\n"
        "print('survived second batch', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 137
    assert "survived first batch" in proc.stdout and "second" not in proc.stdout


def test_options_reject_unknown_engine_and_bad_values():
    with pytest.raises(ValidationError, match="unknown OCR engine"):
        OcrOptions(engine="abbyy")
    with pytest.raises(ValidationError):
        OcrOptions(tesseract_lang="eng")
    with pytest.raises(ValidationError):
        OcrOptions(det_batch=0)
    with pytest.raises(ValidationError, match="hex SHA-256"):
        OcrOptions(expected_model_sha256={"a.onnx": "xyz"})
    with pytest.raises(ValidationError):
        OcrOptions(enigne="null")  # typo in a key
    with pytest.raises(ConfigError):
        create_engine({"engine": "null", "device": "tpu"})
    opts = OcrOptions(expected_model_sha256={"a.onnx": "AB" * 32})
    assert opts.expected_model_sha256 == {"a.onnx": "ab" * 32}
    assert opts.tesseract_psm == 3 and opts.tesseract_lang == "chi_sim"


def test_register_engine_adds_a_name(monkeypatch):
    from dangan.ocr.engines import registry

    monkeypatch.setattr(registry, "_factories", {})  # leave the process-wide registry as it was
    caps = EngineCapabilities(batched=False, gpu=False, languages=(), line_boxes=False, orientation=False)

    class Echo(NullEngine):
        name = "echo-test"
        capabilities = caps

    assert "echo-test" not in available_engines()
    register_engine("echo-test", lambda options: Echo())
    assert {"ppocr", "tesseract", "null", "fault", "echo-test"} <= set(available_engines())
    assert isinstance(create_engine({"engine": "echo-test"}), Echo)
    with pytest.raises(ValueError):
        register_engine("bad name!", lambda options: Echo())


def test_module_cli_prints_text_and_fails_on_bad_file(tmp_path, capsys):
    from PIL import Image

    from dangan.ocr.__main__ import main

    Image.new("L", (40, 30), 255).save(tmp_path / "p.png")
    assert main(["--engine", "fault", "--json", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert '"text": "page 0"' in out and '"width": 40' in out
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert main(["--engine", "null", str(tmp_path / "bad.png")]) == 1
    assert "OCR_EMPTY_IMAGE" in capsys.readouterr().out
