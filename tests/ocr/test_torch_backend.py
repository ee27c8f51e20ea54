"""The torch path of ``ppocr`` on CPU tensors: batching/bucketing, graph fixes, parity with onnxruntime,
the pipelined runner, and CUDA fallback (CI has no GPU; the same code runs on ``cuda:0`` there)."""

from __future__ import annotations

import logging
import random
from importlib.util import find_spec

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch not installed (the `gpu` extra)")
pytest.importorskip("onnx", reason="onnx not installed (the `gpu` extra)")
if find_spec("onnx2torch") is None:  # not imported here: it drags in torchvision
    pytest.skip("onnx2torch not installed (the `gpu` extra)", allow_module_level=True)

import torch

from dangan.errors import OcrEngineUnavailable
from dangan.ocr import OcrOptions, create_engine
from dangan.ocr.engines.gpu import device as gpu_device
from dangan.ocr.engines.gpu.engine import TorchPpOcrEngine
from dangan.ocr.engines.gpu.infer import TorchDetector, TorchRecognizer, split_on_oom
from dangan.ocr.engines.options import PpOcrOptions
from dangan.ocr.engines.ppocr import PpOcrEngine
from tests.ocr.pages import render_page

NO_CUDA = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def torch_engine():
    # the production options, like the shared onnxruntime engine it is compared with
    engine = TorchPpOcrEngine.from_options(PpOcrOptions(device="cpu", backend="torch", torch_workers=2))
    yield engine
    engine.close()


# --- device-side batching on CPU tensors with probe modules --------------------------------------------
def test_detector_batches_pages_and_cuts_each_map_back_out():
    pages = [np.full((h, w, 3), v, np.uint8) for (w, h), v in (((640, 300), 0), ((200, 900), 128), ((64, 64), 255))]
    det = TorchDetector(lambda x: x[:, :1], "cpu", False, 1600)  # "probability" = normalized B channel
    resized = [det.prepare(p) for p in pages]
    maps = det.run(resized, [(p.shape[1], p.shape[0]) for p in pages])
    for page, (prob, slot), value in zip(pages, maps, (0, 128, 255), strict=True):
        assert prob.shape == (slot.resized_h, slot.resized_w)
        assert np.allclose(prob, value * 2 / 255 - 1, atol=1e-6)  # no white canvas padding leaked in
        assert slot.page_w == page.shape[1]


class _IdentityByColumn(torch.nn.Module):
    """Fake CTC model: step t emits class 1 + pixel value of column 8t, or blank where the input is 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = x[:, 0, 0, ::8]
        value = torch.round((cols + 1) * 255 / 2).long()
        cls = torch.where(cols == 0, torch.zeros_like(value), value + 1)
        return torch.nn.functional.one_hot(cls, 258).float()


def test_recognizer_buckets_pads_with_zero_and_restores_order():
    charset = ["", *[chr(0x4E00 + v) for v in range(256)], " "]
    rng = random.Random(3)
    widths = [rng.randint(8, 1500) for _ in range(40)]
    values = [int(v) for v in rng.sample(range(1, 255), 40) if v != 127][:40]
    crops = [np.full((48, w, 3), v, np.uint8) for w, v in zip(widths, values, strict=False)]
    rec = TorchRecognizer(_IdentityByColumn(), "cpu", False, charset, max_batch=4)
    out = rec.run(crops)
    assert [text for text, _ in out] == [chr(0x4E00 + v) for v in values[: len(crops)]]
    assert all(conf == 1.0 for _, conf in out)
    assert rec.run([]) == []


def test_out_of_memory_splits_the_batch_in_order():
    calls: list[int] = []

    def run(items):
        calls.append(len(items))
        if len(items) > 2:
            raise torch.OutOfMemoryError("fake OOM")
        return [i * 10 for i in items]

    assert split_on_oom(run, list(range(7))) == [i * 10 for i in range(7)]
    assert calls == [7, 3, 1, 2, 4, 2, 2]  # halves, recursively, left before right
    with pytest.raises(torch.OutOfMemoryError):
        split_on_oom(lambda items: run([1, 2, 3]), [1])


# --- graph fixes ----------------------------------------------------------------------------------------
def _tiny_model(stride: int = 1):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 2, 2)).astype(np.float32), "w_const")
    bn = [
        numpy_helper.from_array(a.astype(np.float32), n)
        for a, n in ((rng.random(4) + 0.5, "s"), (rng.random(4), "b"), (rng.random(4), "m"), (rng.random(4) + 0.5, "v"))
    ]
    nodes = [
        helper.make_node("Constant", [], ["w"], value=helper.make_tensor(
            "w", TensorProto.FLOAT, [4, 3, 2, 2], numpy_helper.to_array(weight).ravel().tolist())),
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[2, 2], strides=[stride, stride],
                         auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER"),
        helper.make_node("BatchNormalization", ["p", "s", "b", "m", "v"], ["y"]),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], bn,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7)


def test_graph_fixes_make_same_upper_graphs_convertible_and_exact(tmp_path):
    import onnx
    import onnxruntime as ort

    from dangan.ocr.engines.gpu.convert import converted_module, fix_same_padding

    path = tmp_path / "tiny.onnx"
    onnx.save(_tiny_model(), str(path))
    x = np.random.default_rng(1).standard_normal((2, 3, 13, 17)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = converted_module(path, "tiny-test-digest", "cpu", False)
    with torch.inference_mode():
        got = module(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape == (2, 4, 13, 17)
    assert np.allclose(got, want, atol=1e-5)
    strided = _tiny_model(stride=2)
    with pytest.raises(OcrEngineUnavailable, match="strides"):
        fix_same_padding(strided)


# --- real models: parity, pipeline, fallback --------------------------------------------------------------
def _same_reading(ours, ref):
    assert ours.error is None and ours.text() == ref.text() and ours.lines
    for la, lb in zip(ours.lines, ref.lines, strict=True):
        assert np.abs(np.array(la.box) - np.array(lb.box)).max() <= 2
        assert abs(la.confidence - lb.confidence) < 0.01


def test_torch_on_cpu_reads_like_onnxruntime(torch_engine, ppocr_engine, form_image, monkeypatch):
    second = render_page([(30, 30, "参保人 李四"), (30, 110, "缴费月数 156")], (620, 200))
    _same_reading(torch_engine.recognize([second])[0], ppocr_engine.recognize([second])[0])
    # Batched with a page of another size: each runs apart (no padding), so it reads as it did alone.
    ours = torch_engine.recognize([form_image, second])
    monkeypatch.setattr(ppocr_engine, "det_batch", 2)
    ref = ppocr_engine.recognize([form_image, second])
    for a, b in zip(ours, ref, strict=True):
        _same_reading(a, b)
    _same_reading(ours[1], torch_engine.recognize([second])[0])  # what a page reads does not depend on its batch
    assert ours[0].device == "cpu/torch" and ours[0].model == ref[0].model
    assert ours[0].model_sha256 == ref[0].model_sha256


def test_stream_pipelines_chunks_and_isolates_bad_pages(torch_engine):
    line = render_page([(20, 15, "姓名 张三")], (300, 80))

    def broken():
        raise OSError("truncated file")

    sources = [lambda: line, None, broken, line, np.zeros((5, 5), np.float32), lambda: line]
    results = list(torch_engine.recognize_stream(sources))  # det_batch 2 on CPU: three chunks
    assert torch_engine.det_batch == 2
    assert [r.error is None for r in results] == [True, False, False, True, False, True]
    assert results[2].error.startswith("OCR_PAGE_FAILED: OSError")
    assert results[1].error.startswith("OCR_EMPTY_IMAGE") and results[4].error.startswith("OCR_BAD_IMAGE")
    assert {r.text().replace(" ", "") for r in results if r.ok} == {"姓名张三"}
    assert (results[4].width, results[4].height) == (5, 5)
    assert torch_engine.timings["detect"] > 0 and torch_engine.timings["recognize"] > 0


@pytest.mark.skipif(not NO_CUDA, reason="a CUDA device is present; fallback is exercised on CPU-only hosts")
def test_cuda_requested_without_cuda_falls_back_with_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="dangan.ocr"):
        engine = create_engine(OcrOptions(engine="ppocr", device="cuda", backend="torch"))
    assert engine.identity().device == "cpu/torch" and engine.capabilities.gpu is False
    assert "CUDA" in engine.device_reason or "NVIDIA" in engine.device_reason
    assert "runs on CPU" in caplog.text
    # backend auto: torch cannot use CUDA, so onnxruntime (faster on CPU) runs, and says why.
    auto = create_engine(OcrOptions(engine="ppocr", device="cuda"))
    assert isinstance(auto, PpOcrEngine) and auto.identity().device == "cpu"
    assert "torch cannot use CUDA" in auto.device_reason
    assert isinstance(create_engine(OcrOptions(engine="ppocr", device="cpu")), PpOcrEngine)


@pytest.mark.skipif(not NO_CUDA, reason="a CUDA device is present; fallback is exercised on CPU-only hosts")
def test_cuda_that_passes_the_probe_but_fails_to_load_falls_back(monkeypatch, caplog):
    monkeypatch.setattr(gpu_device, "cuda_unusable", lambda: None)  # pretend the probe passed
    with caplog.at_level(logging.WARNING, logger="dangan.ocr"):
        engine = TorchPpOcrEngine(device="cuda", workers=1)
    assert engine.identity().device == "cpu/torch"
    assert engine.device_reason.startswith("cuda:0 failed")
    assert "falls back to CPU" in caplog.text
    engine.close()
    with pytest.raises(Exception):  # noqa: B017  (whatever torch raises without CUDA)
        TorchPpOcrEngine(device="cuda", workers=1, cpu_fallback_ok=False)
    auto = create_engine(OcrOptions(engine="ppocr", device="auto"))  # auto: torch fails → onnxruntime
    assert isinstance(auto, PpOcrEngine) and "torch on CUDA failed" in auto.device_reason


def test_a_device_failing_mid_run_is_a_retryable_error_and_the_engine_is_rebuilt(monkeypatch):
    """CUDA dying mid-run fails every page of a batch with a device error: that is not the pages' fault. The
    chunk gets a retryable OCR_DEVICE_LOST (no page recorded as failed) and engine_for builds a new engine."""
    from dangan.errors import OcrDeviceLost
    from dangan.ocr import stage

    engine = TorchPpOcrEngine(device="cpu", workers=1)
    line = render_page([(20, 15, "姓名 张三")], (300, 80))
    assert [r.ok for r in engine.recognize([line])] == [True]

    def dead(*args, **kwargs):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(engine.detector, "run", dead)
    with pytest.raises(OcrDeviceLost) as info:
        engine.recognize([line, line])
    assert info.value.transient and info.value.code == "OCR_DEVICE_LOST" and engine.healthy is False
    options = OcrOptions(engine="ppocr", device="cpu", backend="torch", torch_workers=1)
    monkeypatch.setitem(stage._engines, options.model_dump_json(), engine)
    rebuilt = stage.engine_for(options)
    assert rebuilt is not engine and rebuilt.healthy and [r.ok for r in rebuilt.recognize([line])] == [True]

    def chokes(*args, **kwargs):  # an ordinary error on every page is the pages' problem: they fail, no raise
        raise ValueError("bad input shape")

    from dangan.ocr.engines.gpu.engine import device_error

    assert not device_error(RuntimeError("CUDA error: out of memory"))  # a page too big: that page's problem
    monkeypatch.setattr(rebuilt.detector, "run", chokes)
    assert [r.error.split(":")[0] for r in rebuilt.recognize([line, line])] == ["OCR_PAGE_FAILED"] * 2
    engine.close()
    rebuilt.close()
