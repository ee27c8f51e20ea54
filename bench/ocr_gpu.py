"""End-to-end GPU OCR benchmark: pages/s from encoded page to text (decode → detect → recognize) of the
``ppocr`` engine on torch/CUDA, the split between stages, and onnxruntime on this machine's CPU as baseline.

Self-contained: generates its own A4 pages at 300 dpi (PIL; Chinese text when a CJK font is installed,
else Latin) with known text, keeps them JPEG-encoded in memory and decodes each on a worker thread as part
of the measured pipeline. Needs numpy, opencv, pillow, onnxruntime, torch, onnx and onnx2torch, with the
repository on ``sys.path`` (this script puts it there); pydantic, rapidocr and the rest of dangan's
dependencies are optional. Without rapidocr, pass ``--model-dir`` with the PP-OCR ONNX files copied from
the rapidocr wheel (``rapidocr/models/PP-OCRv6_det_small.onnx`` and ``PP-OCRv6_rec_small.onnx``).
Prints ONE JSON line.

    python bench/ocr_gpu.py --model-dir models/ --pages 512          # on a CUDA host
    python bench/ocr_gpu.py --device cpu --pages 4 --baseline-pages 2   # smoke run anywhere
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REQUIRED = ("numpy", "cv2", "PIL", "onnxruntime", "torch", "onnx", "onnx2torch")
FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")
PAGE_W, PAGE_H, FONT_PX, LINE_PX = 2480, 3508, 42, 72  # A4 at 300 dpi, 10 pt text


def has(module: str) -> bool:
    """True when ``module`` can be imported (without importing it)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def fail(message: str) -> None:
    """Exit with a one-line JSON error (so a driver script still gets one JSON line) and status 2."""
    print(json.dumps({"bench": "ocr_gpu", "error": message}, ensure_ascii=False))
    sys.exit(2)


def bootstrap() -> None:
    """Check third-party modules; without pydantic, load ``dangan.ocr`` as a bare package (its
    ``__init__`` pulls in the options layer; the engine modules used here do not need it)."""
    missing = [m for m in REQUIRED if not has(m)]
    if missing:
        fail(f"missing Python packages: {', '.join(missing)} (pip install torch onnx onnx2torch ...)")
    if not has("pydantic"):
        import dangan

        pkg = types.ModuleType("dangan.ocr")
        pkg.__path__ = [str(ROOT / "dangan" / "ocr")]
        sys.modules["dangan.ocr"] = pkg
        dangan.ocr = pkg  # type: ignore[attr-defined]


def model_dir(arg: Path | None) -> Path | None:
    """The folder to load from (None: the rapidocr wheel's), after checking the files are there."""
    if arg is not None:
        found = {p: sorted(arg.glob(p)) for p in ("*det*.onnx", "*rec*.onnx")} if arg.is_dir() else {}
        if not found or not all(found.values()):
            fail(f"--model-dir {arg} must hold one *det*.onnx and one *rec*.onnx (PP-OCRv6_det_small.onnx, "
                 "PP-OCRv6_rec_small.onnx from the rapidocr wheel's models/ folder)")  # fmt: skip
        return arg
    if not has("rapidocr"):
        fail("no PP-OCR models: rapidocr is not installed; pass --model-dir with PP-OCRv6_det_small.onnx and "
             "PP-OCRv6_rec_small.onnx copied from the rapidocr wheel (rapidocr/models/)")  # fmt: skip
    return None


def _words(rng: random.Random, cjk: bool) -> str:
    if not cjk:
        return " ".join(rng.choice(["archive", "pension", "account", "record", "county", "month"]) for _ in range(2))
    parts = ["姓名", "公民身份号码", "缴费基数", "单位名称", "参保日期", "个人账户", "养老保险", "经办机构", "备注"]
    return rng.choice(parts) + " " + rng.choice(["张三", "李四", "王五", "杭州市西湖区", "正常缴费", "补缴"])


def make_pages(count: int, seed: int) -> tuple[list[bytes], list[str], bool]:
    """``count`` distinct JPEG-encoded gray pages, their texts, and whether CJK text was drawn."""
    import cv2
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    path = next((f for f in FONTS if Path(f).is_file()), None)
    cjk = path is not None
    path = path or next((f for f in LATIN_FONTS if Path(f).is_file()), None)
    font = ImageFont.truetype(path, FONT_PX) if path else ImageFont.load_default()
    rng = random.Random(seed)
    blobs, texts = [], []
    for _ in range(count):
        img = Image.new("L", (PAGE_W, PAGE_H), 255)
        draw = ImageDraw.Draw(img)
        lines = []
        for row, y in enumerate(range(200, PAGE_H - 200, LINE_PX)):
            x = 180
            for _col in range(3 if row % 3 else 1):  # table-like rows of 3 cells, every third a full line
                text = f"{_words(rng, cjk)} {rng.randint(1000, 99999)},{rng.randint(100, 999)}.{rng.randint(10, 99)}"
                draw.text((x, y), text, font=font, fill=0)
                lines.append(text)
                x += 740
        ok, buf = cv2.imencode(".jpg", np.asarray(img), [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        blobs.append(buf.tobytes())
        texts.append("".join(lines))
    return blobs, texts, cjk


def _bench_ocr() -> Any:
    spec = importlib.util.spec_from_file_location("dangan_bench_ocr", Path(__file__).with_name("ocr.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cer(texts: list[str], truths: list[str]) -> float:
    """Character error rate over pages (NFKC, whitespace removed)."""
    m = _bench_ocr()
    errors = sum(m.edit_distance(m.squash(t), m.squash(h)) for t, h in zip(truths, texts, strict=True))
    return round(errors / max(1, sum(len(m.squash(t)) for t in truths)), 4)


def loader(blob: bytes) -> Any:
    """A zero-argument page loader (JPEG → gray uint8), run by the engine's worker threads."""
    import cv2
    import numpy as np

    return lambda: cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_GRAYSCALE)


def run_torch(blobs: list[bytes], truths: list[str], n: int, args: argparse.Namespace, models: Path | None) -> dict:
    """The pipelined torch engine over ``n`` pages (cycling the distinct ones), after a warm-up."""
    import torch

    from dangan.ocr.engines.gpu.engine import TorchPpOcrEngine

    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    t0 = time.perf_counter()
    eng = TorchPpOcrEngine(
        models, device=args.device, det_limit_side_len=args.det_limit, det_batch=args.det_batch,
        rec_batch=args.rec_batch, fp16=not args.fp32, workers=args.workers, rec_min_width=args.rec_min_width,
    )  # fmt: skip
    warm = list(eng.recognize_stream(loader(b) for b in blobs[: min(len(blobs), 2 * eng.det_batch)]))
    load_s = time.perf_counter() - t0
    cuda = eng.choice.is_cuda
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    eng.timings.clear()
    eng.crops_seen = 0
    t0 = time.perf_counter()
    results = list(eng.recognize_stream(loader(blobs[i % len(blobs)]) for i in range(n)))
    wall = time.perf_counter() - t0
    lines = sum(len(r.lines) for r in results)
    k = min(n, len(blobs))
    timings = {stage: round(seconds, 3) for stage, seconds in sorted(eng.timings.items())}
    eng.close()
    return {
        "device": eng.identity().device, "device_reason": eng.device_reason, "pages": n, "wall_s": round(wall, 3),
        "pages_per_s": round(n / wall, 2), "lines": lines,
        "crops": eng.crops_seen, "crops_per_s_rec": round(eng.crops_seen / max(eng.timings["recognize"], 1e-9), 1),
        "stage_s": timings, "stage_note": "detect/recognize: device wall time; others: CPU seconds summed over workers",
        "det_batch": eng.det_batch, "rec_batch": eng.recognizer.max_batch, "workers": eng.workers,
        "failed": sum(1 for r in results if r.error), "load_and_warmup_s": round(load_s, 2), "warmup_pages": len(warm),
        "gpu_peak_mem_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        "cer": cer([r.text() for r in results[:k]], truths[:k]), "texts": [r.text() for r in results[:k]],
    }  # fmt: skip


def run_onnxruntime(
    blobs: list[bytes], truths: list[str], n: int, args: argparse.Namespace, models: Path | None
) -> dict:
    """The onnxruntime engine on CPU, page after page, decode included."""
    from dangan.ocr.engines.ppocr import PpOcrEngine

    eng = PpOcrEngine(models, device="cpu", det_limit_side_len=args.det_limit, rec_min_width=args.rec_min_width)
    eng.recognize([loader(blobs[0])()[:600]])  # warm-up
    t0 = time.perf_counter()
    results = [eng.recognize([loader(blobs[i % len(blobs)])()])[0] for i in range(n)]
    wall = time.perf_counter() - t0
    k = min(n, len(blobs))
    return {
        "device": "cpu/onnxruntime", "pages": n, "wall_s": round(wall, 3), "pages_per_s": round(n / wall, 3),
        "lines": sum(len(r.lines) for r in results), "cer": cer([r.text() for r in results[:k]], truths[:k]),
        "texts": [r.text() for r in results[:k]],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate pages, run torch then the CPU baseline, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu", "auto"], default="cuda")
    parser.add_argument("--pages", type=int, default=512, help="pages through the torch pipeline (timed)")
    parser.add_argument("--unique-pages", type=int, default=16, help="distinct generated pages (cycled)")
    parser.add_argument("--baseline-pages", type=int, default=8, help="pages for onnxruntime on CPU (0: skip)")
    parser.add_argument("--model-dir", type=Path, help="folder with *det*.onnx and *rec*.onnx")
    parser.add_argument("--det-limit", type=int, default=1600, help="detection longer-side cap (px)")
    parser.add_argument("--det-batch", type=int, default=16)
    parser.add_argument("--rec-batch", type=int, default=1024, help="320-px crops per recognition run")
    parser.add_argument("--rec-min-width", type=int, default=320)
    parser.add_argument("--workers", type=int, default=0, help="CPU worker threads (0: all cores, ≤ 32)")
    parser.add_argument("--fp32", action="store_true", help="run fp32 on CUDA (default fp16)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN autotune (fixed page sizes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    bootstrap()
    models = model_dir(args.model_dir)
    import torch

    t0 = time.perf_counter()
    blobs, truths, cjk = make_pages(max(1, min(args.unique_pages, args.pages)), args.seed)
    report: dict[str, Any] = {
        "bench": "ocr_gpu", "torch_version": torch.__version__, "cpus": os.cpu_count(), "cjk_text": cjk,
        "page_px": [PAGE_W, PAGE_H], "unique_pages": len(blobs), "generate_s": round(time.perf_counter() - t0, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }  # fmt: skip
    gpu = run_torch(blobs, truths, args.pages, args, models)
    report["torch"] = gpu
    if args.baseline_pages > 0:
        base = run_onnxruntime(blobs, truths, args.baseline_pages, args, models)
        report["onnxruntime_cpu"] = base
        same = [a == b for a, b in zip(gpu["texts"], base["texts"], strict=False)]
        report["speedup_vs_onnxruntime_cpu"] = round(gpu["pages_per_s"] / base["pages_per_s"], 1)
        report["identical_text_pages"] = f"{sum(same)}/{len(same)}"
        report["text_cer_torch_vs_onnxruntime"] = cer(gpu["texts"][: len(same)], base["texts"][: len(same)])
        base.pop("texts")
    gpu.pop("texts")
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
