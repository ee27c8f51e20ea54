"""OCR options: one pydantic model per engine, validated once when an engine is created (``create_engine``).

Every engine declares its options model in the registry (``register_engine(name, factory, options=...)``) and
its constructor takes that model, so a new option is one field in one model. ``EngineOptions`` holds what all
engines share (the device), ``ModelOptions`` what the ONNX-model engines share (model folder, pinned digests,
detection size, threads, confidence floor, line orientation).

``OcrOptions`` is the engine name plus that engine's model. In settings they are one ``[ocr]`` namespace::

    [ocr]
    engine = "ppocr"
    device = "auto"           # every engine's default device (``--device`` overrides it per run)
    [ocr.ppocr]
    det_limit_side_len = 1280
    [ocr.tesseract]
    psm = 3

The flat keys of the single options bag that came before (``det_limit_side_len``, ``tesseract_psm``,
``paddle_det_dir``, ``fault = {...}``, ...) still work: ``LEGACY_KEYS`` maps each to its engine's field, an
engine section wins over them, and ``dangan.config`` logs a deprecation note when a settings file uses them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

log = logging.getLogger("dangan.ocr")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
Device = Literal["auto", "cpu", "cuda"]


class EngineOptions(BaseModel):
    """Options every engine takes; engines without a GPU path run on the CPU whatever ``device`` asks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: Device = "auto"


class ModelOptions(EngineOptions):
    """Options of the engines that run PP-OCR model files (``ppocr``, ``paddle``)."""

    model_dir: Path | None = Field(
        default=None, description="folder with det/rec(/cls) ONNX files (+ optional dict .txt); default: bundled"
    )
    expected_model_sha256: dict[str, str] | None = Field(
        default=None, description="model file name → pinned lowercase hex SHA-256"
    )
    # 1280/160 measured on the sample pages (bench/ocr.py): 1.7x faster than PP-OCR's 1600/320 on CPU with CER
    # still 0.65% clean / 0.34% degraded; 1024 pushed clean 300-dpi CER over 1%.
    det_limit_side_len: int = Field(default=1280, ge=64, le=8192, description="longer side cap for detection")
    threads: int = Field(default=0, ge=0, le=256, description="onnxruntime intra-op threads (0 = its default)")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, description="drop recognized lines below this")
    use_cls: bool = Field(default=False, description="run the 0°/180° line orientation classifier (needs a cls model)")

    @field_validator("expected_model_sha256")
    @classmethod
    def _hex_digests(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        out: dict[str, str] = {}
        for name, digest in sorted(value.items()):  # sorted: the options' JSON is the engine cache key
            digest = digest.strip().lower()
            if not _SHA256.match(digest):
                raise ValueError(f"expected_model_sha256[{name!r}] is not a hex SHA-256")
            if "/" in name or "\\" in name:
                raise ValueError(f"expected_model_sha256 keys are file names, not paths: {name!r}")
            out[name] = digest
        return out


class PpOcrOptions(ModelOptions):
    """``[ocr.ppocr]``: our det → (cls) → rec pipeline on onnxruntime, or on torch (``backend``)."""

    det_batch: int = Field(default=1, ge=1, le=64, description="pages per detection run")
    rec_batch: int = Field(default=16, ge=1, le=512, description="line crops (320 px wide) per recognition run")
    rec_min_width: int = Field(
        default=160,
        ge=64,
        le=320,
        description="pad line crops to at least this width (PP-OCR: 320; CPU: 160 is faster)",
    )
    page_orientation: bool = Field(
        default=True,
        description="turn pages fed sideways or upside down upright before recognition (dangan/ocr/orientation.py)",
    )
    backend: Literal["auto", "onnxruntime", "torch"] = Field(
        default="auto",
        description="runtime: auto = torch on CUDA when usable, else onnxruntime (the faster on CPU)",
    )
    torch_det_batch: int = Field(default=16, ge=1, le=256, description="torch: pages per detection run on GPU")
    torch_rec_batch: int = Field(default=1024, ge=1, le=8192, description="torch: 320-px crops per rec run on GPU")
    torch_fp16: bool = Field(default=True, description="torch: run in fp16 on CUDA (CPU always runs fp32)")
    torch_workers: int = Field(default=0, ge=0, le=256, description="torch: CPU threads for decode/pre/post (0 = auto)")


class PaddleOptions(ModelOptions):
    """``[ocr.paddle]``: PaddleOCR's own pipeline on local model folders (``model_dir``: the ONNX source)."""

    det_dir: Path | None = Field(
        default=None, description="PaddleOCR det model folder (inference.yml + model); default: prepared"
    )
    rec_dir: Path | None = Field(default=None, description="PaddleOCR rec model folder")
    cls_dir: Path | None = Field(default=None, description="line orientation folder (with use_cls)")
    runtime: Literal["onnxruntime", "paddle"] = Field(
        default="onnxruntime",
        description="PaddleX inference engine; 'paddle' needs paddlepaddle(-gpu) and Paddle model folders",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="where folders built from model_dir/bundled ONNX go ($XDG_CACHE_HOME/dangan/paddle-models)",
    )

    @model_validator(mode="after")
    def _dirs_together(self) -> PaddleOptions:
        if (self.det_dir is None) != (self.rec_dir is None):
            raise ValueError("set both det_dir and rec_dir (paddle_det_dir, paddle_rec_dir), or neither")
        return self


class TesseractOptions(EngineOptions):
    """``[ocr.tesseract]``: Tesseract through its command line (CPU only)."""

    lang: Literal["chi_sim", "chi_sim+eng"] = "chi_sim"
    psm: int = Field(default=3, ge=0, le=13, description="page segmentation mode (psm 6 drops table rows)")
    workers: int = Field(default=0, ge=0, le=256, description="pages read at once, one thread each (0 = CPU count)")
    dpi: int | None = Field(default=None, ge=70, le=1200, description="page resolution; None: estimated from size")
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0, description="drop recognized lines below this")


class FaultOptions(EngineOptions):
    """``[ocr.fault]``: fault injection (page indices count every page the engine instance saw)."""

    fail_on_pages: frozenset[int] = frozenset()
    die_on_page: int | None = None
    raise_transient: bool = False

    @field_serializer("fail_on_pages")
    def _sorted_pages(self, pages: frozenset[int]) -> list[int]:
        return sorted(pages)  # a set's order is not stable: the options' JSON is the engine cache key


#: The fault engine's model under its earlier name.
FaultSpec = FaultOptions

_MODEL_ENGINES = ("ppocr", "paddle")
#: Flat keys of the earlier single ``[ocr]`` options bag → the (engine, field) pairs they set.
LEGACY_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    **{key: tuple((e, key) for e in _MODEL_ENGINES) for key in ModelOptions.model_fields if key != "device"},
    **{key: (("ppocr", key),) for key in set(PpOcrOptions.model_fields) - set(ModelOptions.model_fields)},
    **{f"paddle_{key}": (("paddle", key),) for key in ("det_dir", "rec_dir", "cls_dir", "runtime", "cache_dir")},
    **{f"tesseract_{key}": (("tesseract", key),) for key in ("lang", "psm", "workers", "dpi")},
}


def _section(value: object) -> dict[str, object]:
    """A section given as a model or a mapping, as a plain dict of the fields that were set."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError(f"an engine section must be a table of options, got {type(value).__name__}")


def _check_engine(value: object) -> str:
    from dangan.ocr.engines.registry import available_engines

    if not isinstance(value, str) or value not in available_engines():
        raise ValueError(f"unknown OCR engine {value!r}; available: {', '.join(available_engines())}")
    return value


class OcrOptions(BaseModel):
    """The engine to build and its options model; unknown keys are rejected so typos surface at start-up.

    Accepted shapes: ``{"engine": "ppocr", "engine_options": {...}}``; the settings shape, sections by engine
    name (``{"engine": "ppocr", "device": "cpu", "ppocr": {...}, "tesseract": {...}}``: every section is
    validated, the chosen engine's is kept); and the earlier flat keys (``LEGACY_KEYS``). A top-level
    ``device`` is the default for the chosen engine's section.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = Field(default="ppocr", description="registered engine: ppocr, paddle, tesseract, null, fault, ...")
    # SerializeAsAny: dumped as the engine's own model; the schema is an open object because the model depends
    # on ``engine`` (Prefect validates flow parameters against it)
    engine_options: Annotated[
        SerializeAsAny[EngineOptions], WithJsonSchema({"type": "object", "title": "Engine options"})
    ] = Field(default_factory=PpOcrOptions, description="the engine's options model ([ocr.<engine>])")

    def __init__(self, **data: object) -> None:
        """Keywords as in the accepted shapes above, e.g. ``OcrOptions(engine="ppocr", device="cpu")``."""
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _engine_section(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        from dangan.ocr.engines.registry import options_model

        rest = dict(data)
        engine = _check_engine(rest.pop("engine", "ppocr"))
        chosen = options_model(engine)
        given = rest.pop("engine_options", None)
        if isinstance(given, BaseModel) and type(given) is not chosen:
            raise ValueError(f"engine {engine!r} takes {chosen.__name__}, got {type(given).__name__}")
        if given is not None and type(given) is chosen:
            if rest:
                raise ValueError(f"engine_options given as a model: no other keys allowed ({', '.join(rest)})")
            return {"engine": engine, "engine_options": given}
        sections: dict[str, dict[str, object]] = {}
        device = rest.pop("device", None)
        if device is not None:
            sections[engine] = {"device": device}
        flat = {key: rest.pop(key) for key in list(rest) if key in LEGACY_KEYS}
        for key, value in flat.items():
            for name, field in LEGACY_KEYS[key]:
                sections.setdefault(name, {})[field] = value
        for name in list(rest):  # engine sections ([ocr.<engine>]); the fault table was also a flat key before
            if name not in _engine_names():
                raise ValueError(f"unknown OCR option {name!r}")
            sections[name] = sections.get(name, {}) | _section(rest.pop(name))
        if given is not None:
            sections[engine] = sections.get(engine, {}) | _section(given)
        out: EngineOptions | None = None
        for name, values in sections.items():  # every section is checked: a typo in another engine's is refused
            model = options_model(name)
            try:
                validated = model.model_validate(values)
            except ValidationError as exc:
                raise ValueError(f"invalid [ocr.{name}] options: {exc}") from None
            if name == engine:
                out = validated
        return {"engine": engine, "engine_options": out if out is not None else chosen()}

    @model_validator(mode="after")
    def _options_fit_engine(self) -> OcrOptions:
        from dangan.ocr.engines.registry import options_model

        expected = options_model(self.engine)
        if type(self.engine_options) is not expected:
            got = type(self.engine_options).__name__
            raise ValueError(f"engine {self.engine!r} takes {expected.__name__}, got {got}")
        return self

    @property
    def device(self) -> Device:
        """The device asked for (``auto``, ``cpu`` or ``cuda``)."""
        return self.engine_options.device


def _engine_names() -> list[str]:
    from dangan.ocr.engines.registry import available_engines

    return available_engines()


def unknown_ocr_keys(values: Mapping[str, object]) -> list[str]:
    """Keys of an ``[ocr]`` table that are neither an engine section nor a (legacy) option, sorted."""
    known = {"engine", "device", "chunk_size", *LEGACY_KEYS, *_engine_names()}
    return sorted(set(values) - known)


_warned: set[str] = set()


def ocr_options_input(
    values: Mapping[str, object], *, engine: str | None = None, device: str | None = None
) -> dict[str, object]:
    """``OcrOptions`` input from an ``[ocr]`` table (not yet validated), with per-run engine/device overrides.

    Flat keys of the earlier options bag are passed on (mapped to their engine's section by ``OcrOptions``)
    with a deprecation note, logged once per key and process.
    """
    values = {k: v for k, v in values.items() if k != "chunk_size" and v is not None}
    legacy = sorted(key for key in values if key in LEGACY_KEYS and key not in _warned)
    for key in legacy:
        _warned.add(key)
        targets = ", ".join(f"[ocr.{name}] {field}" for name, field in LEGACY_KEYS[key])
        log.warning("settings: [ocr] %s is deprecated; use %s (an engine section wins over it)", key, targets)
    chosen = str(engine or values.get("engine") or "ppocr")
    out: dict[str, object] = values | {"engine": chosen}
    if device:  # the run's own choice wins over the chosen engine's section too
        section = out.get(chosen)
        out[chosen] = (_section(section) if section is not None else {}) | {"device": device}
        out.pop("device", None)
    return out
