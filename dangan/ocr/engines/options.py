"""OCR options, validated once when an engine is created (``create_engine``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FaultSpec(BaseModel):
    """Fault injection for the ``fault`` engine (page indices count every page the engine instance saw)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fail_on_pages: frozenset[int] = frozenset()
    die_on_page: int | None = None
    raise_transient: bool = False


class OcrOptions(BaseModel):
    """Engine choice and tuning; unknown keys are rejected so typos surface at start-up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = Field(default="ppocr", description="registered engine: ppocr, paddle, tesseract, null, fault, ...")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model_dir: Path | None = Field(
        default=None, description="folder with det/rec(/cls) ONNX files (+ optional dict .txt); default: bundled"
    )
    expected_model_sha256: dict[str, str] | None = Field(
        default=None, description="model file name → pinned lowercase hex SHA-256"
    )
    # 1280/160 measured on the sample pages (bench/ocr.py): 1.7x faster than PP-OCR's 1600/320 on CPU with CER
    # still 0.65% clean / 0.34% degraded; 1024 pushed clean 300-dpi CER over 1%.
    det_limit_side_len: int = Field(default=1280, ge=64, le=8192, description="longer side cap for detection")
    det_batch: int = Field(default=1, ge=1, le=64, description="pages per detection run")
    rec_batch: int = Field(default=16, ge=1, le=512, description="line crops (320 px wide) per recognition run")
    rec_min_width: int = Field(
        default=160,
        ge=64,
        le=320,
        description="pad line crops to at least this width (PP-OCR: 320; CPU: 160 is faster)",
    )
    threads: int = Field(default=0, ge=0, le=256, description="onnxruntime intra-op threads (0 = its default)")
    backend: Literal["auto", "onnxruntime", "torch"] = Field(
        default="auto",
        description="ppocr runtime: auto = torch on CUDA when usable, else onnxruntime (the faster on CPU)",
    )
    torch_det_batch: int = Field(default=16, ge=1, le=256, description="torch: pages per detection run on GPU")
    torch_rec_batch: int = Field(default=1024, ge=1, le=8192, description="torch: 320-px crops per rec run on GPU")
    torch_fp16: bool = Field(default=True, description="torch: run in fp16 on CUDA (CPU always runs fp32)")
    torch_workers: int = Field(default=0, ge=0, le=256, description="torch: CPU threads for decode/pre/post (0 = auto)")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, description="drop recognized lines below this")
    use_cls: bool = Field(default=False, description="run the 0°/180° line orientation classifier (needs a cls model)")
    paddle_det_dir: Path | None = Field(
        default=None, description="paddle: PaddleOCR det model folder (inference.yml + model); default: prepared"
    )
    paddle_rec_dir: Path | None = Field(default=None, description="paddle: PaddleOCR rec model folder")
    paddle_cls_dir: Path | None = Field(default=None, description="paddle: line orientation folder (with use_cls)")
    paddle_runtime: Literal["onnxruntime", "paddle"] = Field(
        default="onnxruntime",
        description="paddle: PaddleX inference engine; 'paddle' needs paddlepaddle(-gpu) and Paddle model folders",
    )
    paddle_cache_dir: Path | None = Field(
        default=None,
        description="paddle: where folders built from model_dir/bundled ONNX go ($XDG_CACHE_HOME/dangan/paddle-models)",
    )
    tesseract_lang: Literal["chi_sim", "chi_sim+eng"] = "chi_sim"
    tesseract_psm: int = Field(default=3, ge=0, le=13, description="page segmentation mode (psm 6 drops table rows)")
    tesseract_workers: int = Field(
        default=0, ge=0, le=256, description="pages Tesseract reads at once, one thread each (0 = CPU count)"
    )
    tesseract_dpi: int | None = Field(
        default=None, ge=70, le=1200, description="page resolution for Tesseract; None: estimated from page size"
    )

    fault: FaultSpec = FaultSpec()

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        from dangan.ocr.engines.registry import available_engines

        if value not in available_engines():
            raise ValueError(f"unknown OCR engine {value!r}; available: {', '.join(available_engines())}")
        return value

    @model_validator(mode="after")
    def _paddle_dirs_together(self) -> OcrOptions:
        if (self.paddle_det_dir is None) != (self.paddle_rec_dir is None):
            raise ValueError("set both paddle_det_dir and paddle_rec_dir, or neither")
        return self

    @field_validator("expected_model_sha256")
    @classmethod
    def _hex_digests(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        out: dict[str, str] = {}
        for name, digest in value.items():
            digest = digest.strip().lower()
            if not _SHA256.match(digest):
                raise ValueError(f"expected_model_sha256[{name!r}] is not a hex SHA-256")
            if "/" in name or "\\" in name:
                raise ValueError(f"expected_model_sha256 keys are file names, not paths: {name!r}")
            out[name] = digest
        return out
