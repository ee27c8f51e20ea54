"""The "OCR runs on CPU" warning is for a fallback only, not for every run on a host without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangan.ocr.engines.gpu import device
from flows.ocr import _fell_back_to_cpu


def test_cpu_on_a_host_without_nvidia_device_is_no_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = tmp_path / "nvidiactl"
    monkeypatch.setattr(device, "_DEVICE_NODES", (node,))
    assert not _fell_back_to_cpu("auto", "cpu")  # expected: said once at info level
    assert not _fell_back_to_cpu("cpu", "cpu")
    assert _fell_back_to_cpu("cuda", "cpu")  # asked for CUDA and did not get it
    node.touch()  # an NVIDIA device that auto could not use
    assert _fell_back_to_cpu("auto", "cpu")
    assert not _fell_back_to_cpu("auto", "cuda:0")
