"""null and fault engines, the registry and option validation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from dangan.errors import ConfigError, OcrTransientFault, is_transient
from dangan.ocr import EngineCapabilities, OcrEngine, OcrOptions, available_engines, create_engine, register_engine
from dangan.ocr.engines.options import (
    LEGACY_KEYS,
    EngineOptions,
    FaultOptions,
    PaddleOptions,
    PpOcrOptions,
    TesseractOptions,
    ocr_options_input,
)
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
    engine = FaultEngine(FaultOptions(fail_on_pages={1, 3}))
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
        "from dangan.ocr.engines.options import FaultOptions\n"
        "from dangan.ocr.engines.testing import FaultEngine\n"
        "e = FaultEngine(FaultOptions(die_on_page=2))\n"
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
    assert isinstance(opts.engine_options, PpOcrOptions)
    assert opts.engine_options.expected_model_sha256 == {"a.onnx": "ab" * 32}
    tess = OcrOptions(engine="tesseract").engine_options
    assert isinstance(tess, TesseractOptions) and tess.psm == 3 and tess.lang == "chi_sim"
    with pytest.raises(ValidationError, match="takes TesseractOptions"):
        OcrOptions(engine="tesseract", engine_options=PpOcrOptions())
    with pytest.raises(ValidationError, match=r"invalid \[ocr.paddle\]"):
        OcrOptions(engine="null", paddle={"det_dir": "/models/det"})  # rec_dir missing, even for another engine


def test_each_engine_gets_its_own_section_and_flat_keys_map_to_it():
    """``[ocr.<engine>]`` sections; the earlier flat keys land in their engine's section, which wins over them."""
    opts = OcrOptions.model_validate(
        {"engine": "tesseract", "device": "cpu", "tesseract_psm": 6, "tesseract": {"workers": 2, "dpi": 300}}
    )
    assert opts.engine_options == TesseractOptions(device="cpu", psm=6, workers=2, dpi=300)
    both = OcrOptions.model_validate(
        {"engine": "ppocr", "det_limit_side_len": 960, "ppocr": {"det_limit_side_len": 640}}
    )
    assert both.engine_options.det_limit_side_len == 640
    paddle = OcrOptions(engine="paddle", paddle_det_dir="/m/det", paddle_rec_dir="/m/rec", det_limit_side_len=960)
    assert paddle.engine_options == PaddleOptions(det_dir="/m/det", rec_dir="/m/rec", det_limit_side_len=960)
    # options of another engine are checked, then left out: they cannot change this engine's cache key
    null = OcrOptions(engine="null", tesseract_psm=6, ppocr={"rec_batch": 8})
    assert null.model_dump() == {"engine": "null", "engine_options": {"device": "auto"}}
    fault = OcrOptions(engine="fault", fault={"fail_on_pages": [3, 1]})
    assert fault.engine_options == FaultOptions(fail_on_pages={1, 3})
    assert set(LEGACY_KEYS) >= {"det_limit_side_len", "tesseract_psm", "paddle_det_dir", "torch_fp16", "model_dir"}


def test_options_json_is_deterministic():
    """The options' JSON is the engine cache key: same options, same text, whatever the input order."""
    a = OcrOptions(engine="fault", fault={"fail_on_pages": {9, 1, 5, 33}})
    b = OcrOptions(engine="fault", fault={"fail_on_pages": [33, 5, 9, 1]})
    assert a.model_dump_json() == b.model_dump_json() and '"fail_on_pages":[1,5,9,33]' in a.model_dump_json()
    pins = {"z.onnx": "a" * 64, "a.onnx": "b" * 64}
    c = OcrOptions(expected_model_sha256=pins)
    d = OcrOptions(expected_model_sha256=dict(reversed(pins.items())))
    assert c.model_dump_json() == d.model_dump_json()
    assert OcrOptions.model_validate_json(c.model_dump_json()) == c


def test_settings_sections_and_deprecated_flat_keys(caplog):
    """``[ocr] engine`` + ``[ocr.<engine>]`` in settings; a flat key still works and is logged as deprecated."""
    from dangan.config import Settings
    from dangan.ocr.engines import options as options_module

    settings = Settings(ocr={"engine": "tesseract", "tesseract": {"psm": 4}, "ppocr": {"det_limit_side_len": 960}})
    opts = OcrOptions.model_validate(settings.ocr.engine_options())
    assert opts.engine_options == TesseractOptions(psm=4)
    run = OcrOptions.model_validate(settings.ocr.engine_options("ppocr", "cpu"))  # per-run overrides
    assert run.engine_options == PpOcrOptions(det_limit_side_len=960, device="cpu")
    options_module._warned.discard("tesseract_psm")
    with caplog.at_level("WARNING", logger="dangan.ocr"):
        flat = Settings(ocr={"engine": "tesseract", "tesseract_psm": 6}).ocr.engine_options()
    assert OcrOptions.model_validate(flat).engine_options.psm == 6
    assert "[ocr] tesseract_psm is deprecated; use [ocr.tesseract] psm" in caplog.text
    with pytest.raises(ValueError, match=r"unknown \[ocr\] setting\(s\): tesseract_pms"):
        Settings(ocr={"tesseract_pms": 6})
    assert ocr_options_input({"engine": "null", "null": {"device": "cpu"}}, device="cuda")["null"] == {"device": "cuda"}


def test_register_engine_adds_a_name(monkeypatch):
    from dangan.ocr.engines import registry

    monkeypatch.setattr(registry, "_entries", {})  # leave the process-wide registry as it was
    caps = EngineCapabilities(batched=False, gpu=False, languages=(), line_boxes=False, orientation=False)

    class Echo(NullEngine):
        name = "echo-test"
        capabilities = caps

    assert "echo-test" not in available_engines()

    class EchoOptions(EngineOptions):
        prefix: str = ""

    seen: list[EngineOptions] = []
    register_engine("echo-test", lambda options: seen.append(options) or Echo(), EchoOptions)
    assert {"ppocr", "tesseract", "null", "fault", "echo-test"} <= set(available_engines())
    assert isinstance(create_engine({"engine": "echo-test", "echo-test": {"prefix": ">"}}), Echo)
    assert seen == [EchoOptions(prefix=">")]  # the engine's own model reaches its factory
    with pytest.raises(ConfigError, match="prefx"):
        create_engine({"engine": "echo-test", "echo-test": {"prefx": ">"}})
    with pytest.raises(TypeError):
        register_engine("echo-test", lambda options: Echo(), dict)  # type: ignore[arg-type]
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
