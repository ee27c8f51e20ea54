"""ONNX → PyTorch conversion of PP-OCR models (onnx2torch), with the graph fixes it needs, cached per process.

onnx2torch 1.5.15 refuses three things the PP-OCR exports contain (measured, see OCR-NOTES): ``auto_pad=
SAME_UPPER`` convolutions and pools (v6), weights held in ``Constant`` nodes instead of initializers (v4), and
BatchNorm inputs whose rank shape inference loses (v4 rec). The fixes are applied to an in-memory copy of the
graph; the file on disk (and its pinned SHA-256) is untouched.
"""

from __future__ import annotations

import logging
import sys
import threading
import types
from pathlib import Path
from typing import Any

from dangan.errors import OcrEngineUnavailable

log = logging.getLogger("dangan.ocr")

_cache_lock = threading.Lock()
_cache: dict[tuple[str, str, str], Any] = {}
_RANK_PRESERVING = {"Identity", "Relu", "Add", "Sub", "Mul", "Div", "HardSigmoid", "Sigmoid", "HardSwish", "Clip"}


def import_onnx2torch() -> Any:
    """``onnx2torch``, importable even where torchvision is broken or absent (PP-OCR needs none of its ops)."""
    try:
        import torchvision  # noqa: F401  (onnx2torch imports it for NMS/RoiAlign only)
    except Exception as exc:  # a CUDA torchvision wheel next to a CPU torch fails at import with RuntimeError
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        stub, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
        why = type(exc).__name__

        def _missing(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"torchvision unavailable ({why}); PP-OCR graphs do not use it")

        ops.nms = ops.roi_align = ops.box_convert = _missing  # type: ignore[attr-defined]
        stub.ops = ops  # type: ignore[attr-defined]
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = stub, ops
        log.debug("torchvision not importable (%s); using a stub for onnx2torch", type(exc).__name__)
    import onnx2torch
    from onnx2torch.node_converters import slice as onnx_slice

    onnx_slice._do_slice = _do_slice  # its list indexing is deprecated in torch (a tensor index in future)
    return onnx2torch


def _do_slice(x: Any, flip_dims: list[int], pos_axes_slices: list[Any], neg_axes_slices: list[Any]) -> Any:
    """onnx2torch's Slice body, indexing with tuples (same result, no deprecation warning)."""
    import torch

    if flip_dims:
        x = torch.flip(x, dims=flip_dims)
    if pos_axes_slices:
        x = x[tuple(pos_axes_slices)]
    if neg_axes_slices:
        x = x[tuple(neg_axes_slices)]
    return x


def _same_pads(kernel: list[int], strides: list[int], dilations: list[int], upper: bool) -> list[int]:
    """Explicit ONNX ``pads`` (begins…, ends…) equivalent to SAME_UPPER/SAME_LOWER for stride-1 nodes."""
    if any(s != 1 for s in strides):
        raise OcrEngineUnavailable(
            f"cannot make SAME padding explicit for strides {strides}: it depends on the input size"
        )
    totals = [d * (k - 1) for k, d in zip(kernel, dilations, strict=True)]
    small = [t // 2 for t in totals]
    large = [t - s for t, s in zip(totals, small, strict=True)]
    return small + large if upper else large + small


def fix_same_padding(model: Any) -> int:
    """Replace ``auto_pad=SAME_*`` on Conv/MaxPool/AveragePool by explicit pads; returns nodes changed."""
    from onnx import helper

    changed = 0
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        mode = attrs.get("auto_pad")
        if mode is None or mode.s not in (b"SAME_UPPER", b"SAME_LOWER"):
            continue
        kernel = list(helper.get_attribute_value(attrs["kernel_shape"]))
        ones = [1] * len(kernel)
        strides = list(helper.get_attribute_value(attrs["strides"])) if "strides" in attrs else ones
        dilations = list(helper.get_attribute_value(attrs["dilations"])) if "dilations" in attrs else ones
        pads = _same_pads(kernel, strides, dilations, upper=mode.s == b"SAME_UPPER")
        node.attribute.remove(mode)
        if "pads" in attrs:
            node.attribute.remove(attrs["pads"])
        node.attribute.append(helper.make_attribute("pads", pads))
        changed += 1
    return changed


def fix_constant_weights(model: Any) -> int:
    """Move tensor-valued ``Constant`` nodes into graph initializers (onnx2torch wants weights there)."""
    from onnx import helper

    moved = 0
    for node in list(model.graph.node):
        if node.op_type != "Constant" or len(node.attribute) != 1 or node.attribute[0].name != "value":
            continue
        tensor = helper.get_attribute_value(node.attribute[0])
        tensor.name = node.output[0]
        model.graph.initializer.append(tensor)
        model.graph.node.remove(node)
        moved += 1
    return moved


def fix_batchnorm_rank(model: Any) -> int:
    """Give BatchNorm inputs with no inferred shape a rank hint, traced back through elementwise ops."""
    from onnx import TensorProto, helper

    known: dict[str, int] = {}
    for info in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        shape = info.type.tensor_type.shape
        if info.type.tensor_type.HasField("shape") and len(shape.dim):
            known[info.name] = len(shape.dim)
    producer = {out: node for node in model.graph.node for out in node.output}
    hinted = 0
    for node in model.graph.node:
        if node.op_type != "BatchNormalization" or node.input[0] in known:
            continue
        name, rank = node.input[0], 4  # conv feature maps unless the chain says otherwise
        while name in producer and producer[name].op_type in _RANK_PRESERVING and name not in known:
            name = producer[name].input[0]
        rank = known.get(name, rank)
        dims = ["N", "C", *[f"S{i}" for i in range(rank - 2)]]
        model.graph.value_info.append(helper.make_tensor_value_info(node.input[0], TensorProto.FLOAT, dims))
        hinted += 1
    return hinted


def load_fixed(path: Path) -> Any:
    """The ONNX model at ``path`` with all fixes applied (shape inference run after them)."""
    import onnx

    model = onnx.load(str(path))
    counts = {"same_pads": fix_same_padding(model), "constants": fix_constant_weights(model)}
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # inference is best effort: conversion may still succeed without it
        log.debug("shape inference failed on %s: %s", path.name, exc)
    counts["bn_rank_hints"] = fix_batchnorm_rank(model)
    log.debug("graph fixes for %s: %s", path.name, counts)
    return model


def converted_module(path: Path, digest: str, device: str, half: bool) -> Any:
    """The model at ``path`` as an eval-mode torch module on ``device`` (fp16 if ``half``), cached per
    (file digest, device, dtype) for the life of the process."""
    key = (digest, device, "fp16" if half else "fp32")
    with _cache_lock:
        module = _cache.get(key)
        if module is not None:
            return module
        onnx2torch = import_onnx2torch()
        try:
            module = onnx2torch.convert(load_fixed(path))
        except Exception as exc:
            raise OcrEngineUnavailable(
                f"onnx2torch cannot convert {path.name}: {type(exc).__name__}: {exc}",
                hint="Use the onnxruntime backend (`ocr.backend = onnxruntime`) for this model.",
            ) from exc
        module = module.eval().to(device)
        if half:
            module = module.half()
        for param in module.parameters():
            param.requires_grad_(False)
        _cache[key] = module
        return module
