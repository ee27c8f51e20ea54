"""Settings: loaded once at the edge (CLI, flow entry) and passed down.

Sources, highest first: explicit keyword arguments, ``DANGAN_*`` environment variables (nested with ``__``,
e.g. ``DANGAN_INGEST__CHUNK_SIZE=100``), ``dangan.toml`` in the working directory (or ``DANGAN_CONFIG``), defaults.
The embedded default keeps everything under ``data_dir`` (``./.dangan``): SQLite catalog, local object store,
and Prefect's home, so nothing lands in the user's home directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# ASCII only: \d would accept full-width and other Unicode digits (３３０１０６), and ``$`` a trailing newline;
# such a code would be registered, then never match the code typed elsewhere, nor be a safe path or key part.
SITE_CODE = re.compile(r"[0-9]{6}", re.ASCII)


def validate_site_code(code: str) -> str:
    """Return ``code`` if it is exactly six ASCII digits (a GB/T 2260 code), else raise ``ValueError``."""
    if not isinstance(code, str) or not SITE_CODE.fullmatch(code):
        raise ValueError(f"site code must be a 6-digit GB/T 2260 administrative code (ASCII 0-9), got {code!r}")
    return code


class IngestSettings(BaseModel):
    """Scanning ingest limits and work-unit size."""

    chunk_size: int = Field(50, ge=1, le=2000, description="pages (files) per Prefect task")
    max_pixels: int = Field(250_000_000, ge=1_000_000, description="per page, checked before decoding")
    max_pdf_pages: int = Field(500, ge=1)
    max_pages: int = Field(500, ge=1, description="pages of a multi-page TIFF, counted from its IFDs before decoding")
    max_total_pixels: int = Field(
        5_000_000_000, ge=1_000_000, description="all pages of one file together (~570 A4 pages at 300 dpi)"
    )
    max_file_bytes: int = Field(2 * 1024**3, ge=1)
    pdf_render_dpi: int = Field(300, ge=72, le=1200)
    make_derivatives: bool = True


class DeriveSettings(BaseModel):
    """OCR derivative options (``[derive]``), passed to ``dangan.imaging.derive.DeriveParams`` field by field.

    Mirrors that model's fields (kept in step by a test) so loading settings does not import OpenCV.
    """

    model_config = ConfigDict(extra="forbid")

    deskew: bool = True
    min_skew_deg: float = Field(0.1, ge=0, description="smaller skews are left alone")
    min_skew_confidence: float = Field(1.5, ge=0, description="less confident skew estimates are not applied")
    crop_border: bool = True
    denoise: Literal["auto", "median3", "nlmeans", "none"] = Field(
        "auto", description="auto: median3 only on noisy pages with strokes thick enough to survive it"
    )
    normalize_contrast: bool = True
    binarize: bool = Field(False, description="Sauvola; the derivative kind becomes ocr-binary")
    target_dpi: int | None = Field(None, ge=72, le=1200, description="upsample pages scanned below this")
    suppress_seals: bool = Field(True, description="whiten red/blue stamp ink (black print under it stays)")
    suppress_show_through: bool = Field(True, description="whiten faint mirrored text from the back when measured")
    min_long_side: int | None = Field(
        1280, ge=64, le=8192, description="upsample small images of unknown or <200 dpi (ID-card copies) to this side"
    )
    format: Literal["png"] = "png"


class OcrSettings(BaseModel):
    """``[ocr]``: the engine, its default device, the pages per chunk task, and one section per engine with that
    engine's options model (``[ocr.ppocr] det_limit_side_len``, ``[ocr.tesseract] psm``, ...; see
    ``dangan/ocr/engines/options.py``). The earlier flat keys (``det_limit_side_len``, ``tesseract_psm``, ...) still
    work, with a deprecation note. Unknown keys are refused here; values are validated once, when the engine is
    built."""

    model_config = ConfigDict(extra="allow")

    engine: str = "ppocr"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model_dir: Path | None = None
    expected_model_sha256: dict[str, str] | None = Field(
        None, description="model file name -> pinned SHA-256; a different file refuses to load"
    )
    chunk_size: int = Field(16, ge=1, le=1024)

    @model_validator(mode="after")
    def _known_ocr_options(self) -> OcrSettings:
        from dangan.ocr.engines.options import unknown_ocr_keys  # here, not at import: config is imported by everything

        unknown = unknown_ocr_keys(self.model_extra or {})
        if unknown:
            raise ValueError(f"unknown [ocr] setting(s): {', '.join(unknown)}; see dangan/ocr/engines/options.py")
        return self

    def engine_options(self, engine: str | None = None, device: str | None = None) -> dict[str, Any]:
        """Everything for ``OcrOptions`` (not yet validated), with per-run engine/device overrides."""
        from dangan.ocr.engines.options import ocr_options_input

        return ocr_options_input(self.model_dump(), engine=engine, device=device)


class TransferSettings(BaseModel):
    """Archive transfer defaults (a command's or flow's own option wins)."""

    keep_source: bool = Field(
        True, description="keep the source's derivative/OCR objects after a transfer commits (masters always stay)"
    )


class AccessSettings(BaseModel):
    """``[access]``: the local access policy until the reading room's operator accounts exist.

    ``grants`` maps an operator (``actor``) to permissions (``pii.reveal``, ``sites.admin``, or ``*``); no one
    holds any permission unless granted here. ``granted_by`` names who edits this section, shown in refusals.
    """

    model_config = ConfigDict(extra="forbid")

    grants: dict[str, list[str]] = Field(default_factory=dict, description="actor -> permissions")
    granted_by: str = Field("the archive room's head (档案室负责人)", description="who grants permissions")


class WebSettings(BaseModel):
    """``[web]``: the link server (``dangan serve``) that serves objects, Data Docs and review pages.

    Links are ``base_url`` + path + an expiring HMAC token. The signing key comes from the environment variable
    named by ``secret_env`` when set (every host that mints or checks links needs the same value), else from
    ``secret_file`` (default ``<data_dir>/web/secret.key``, created on first use, mode 0600).
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field("http://127.0.0.1:8765", description="how operators' browsers reach `dangan serve`")
    bind: str = Field("127.0.0.1:8765", description="host:port `dangan serve` listens on")
    secret_env: str = Field("DANGAN_WEB_SECRET", description="environment variable holding the signing key")
    secret_file: Path | None = Field(None, description="signing key file; default <data_dir>/web/secret.key")
    link_ttl_s: int = Field(7 * 24 * 3600, ge=60, le=90 * 24 * 3600, description="lifetime of links in artifacts")

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("[web] base_url must be an http(s) URL without query, e.g. http://10.1.2.3:8765")
        return value.rstrip("/")


REPLICA_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}", re.ASCII)


class ReplicaTargetSettings(BaseModel):
    """One place that keeps a second copy of masters (``[replication.targets.NAME]``).

    Exactly one of ``url`` (a store URL: another bucket, or a folder; with ``removable`` a mounted removable
    medium, which must exist: an unmounted path is refused, never filled on the local disk) and ``site`` (a
    registered site whose store keeps the copy). ``sites``: the source sites it serves (empty: every site).
    """

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    site: str | None = None
    sites: list[str] = Field(default_factory=list)
    removable: bool = False

    @model_validator(mode="after")
    def _one_location(self) -> ReplicaTargetSettings:
        if (self.url is None) == (self.site is None):
            raise ValueError("a replica target names exactly one of url= (a store) or site= (a registered site)")
        if self.removable and self.url is None:
            raise ValueError("removable = true needs url = the folder where the medium is mounted")
        for code in [*self.sites, *([self.site] if self.site else [])]:
            validate_site_code(code)
        return self


class ReplicationSettings(BaseModel):
    """``[replication]``: where second copies of masters go (定期检测和拷贝), and how much a run does."""

    model_config = ConfigDict(extra="forbid")

    targets: dict[str, ReplicaTargetSettings] = Field(default_factory=dict)
    chunk_size: int = Field(200, ge=1, le=5000, description="masters per replication task")
    search_limit: int = Field(
        10_000, ge=0, le=10_000_000, description="objects listed per store when a repair looks for a copy by metadata"
    )

    @field_validator("targets")
    @classmethod
    def _target_names(cls, value: dict[str, ReplicaTargetSettings]) -> dict[str, ReplicaTargetSettings]:
        for name in value:
            if not REPLICA_TARGET_NAME.fullmatch(name):
                raise ValueError(f"replica target name {name!r}: lowercase letters, digits, '-' or '_' (at most 40)")
        return value


class Settings(BaseSettings):
    """Everything dangan needs to run; see the module docstring for sources."""

    model_config = SettingsConfigDict(
        env_prefix="DANGAN_",
        env_nested_delimiter="__",
        extra="ignore",
        toml_file=os.environ.get("DANGAN_CONFIG", "dangan.toml"),
    )

    data_dir: Path = Path(".dangan")
    catalog_url: str | None = Field(None, description="SQLAlchemy URL of the home catalog; default SQLite")
    store_url: str | None = Field(None, description="default object store; default a folder in data_dir")
    actor: str = Field(default_factory=lambda: os.environ.get("USER", "operator"))
    ingest: IngestSettings = IngestSettings()
    derive: DeriveSettings = DeriveSettings()
    ocr: OcrSettings = OcrSettings()
    transfer: TransferSettings = TransferSettings()
    replication: ReplicationSettings = ReplicationSettings()
    access: AccessSettings = AccessSettings()
    web: WebSettings = WebSettings()
    qa: dict[str, Any] = Field(default_factory=dict, description="QA threshold overrides")
    quality: dict[str, Any] = Field(default_factory=dict, description="validation rule overrides (QualityRules)")
    task_runner: Literal["threads", "dask"] = Field("threads", description="how a flow runs its chunk tasks")
    task_workers: int = Field(4, ge=1, le=256, description="threads, or local Dask workers, per flow run")
    dask_address: str | None = Field(None, description="existing Dask scheduler (tcp://host:8786); else local")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("catalog_url")
    @classmethod
    def _password_by_reference(cls, value: str | None) -> str | None:
        # Settings travel into every flow run's parameters (tasks.common.settings_payload), which Prefect stores
        # and shows. ConfigError is no ValueError: pydantic lets it through instead of echoing the input value.
        from sqlalchemy.exc import ArgumentError

        from dangan.catalog.db import has_literal_password, safe_url
        from dangan.errors import ConfigError

        try:
            literal = bool(value) and has_literal_password(str(value))
        except ArgumentError:  # not a URL at all: connecting reports it
            return value
        if literal:
            raise ConfigError(
                "catalog_url contains a literal password, which would be copied into every flow run's "
                "parameters; write it as ${ENV_VAR}, e.g. postgresql://user:${DANGAN_PG_PASSWORD}@host/db",
                hint="Put ${VARIABLE} where the password was (dangan.toml or DANGAN_CATALOG_URL) and export that "
                "variable wherever dangan and its workers run; it is read when connecting.",
                url=safe_url(str(value)),
            )
        return value

    @property
    def home_catalog_url(self) -> str:
        """The catalog that holds the site registry (and, by default, every site's data)."""
        return self.catalog_url or f"sqlite:///{self.data_dir / 'catalog.db'}"

    @property
    def default_store_url(self) -> str:
        return self.store_url or str(self.data_dir / "objects")

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"


def load_settings(**overrides: Any) -> Settings:
    """Load settings once at the edge; ``overrides`` win over environment and file."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def offline_environment(settings: Settings) -> dict[str, str]:
    """Variables that keep Prefect local and silent (no analytics, no outbound calls)."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        # Prefect waits 20 s for its ephemeral API; a busy 2-core machine (a scan batch being processed beside
        # it) was seen to need longer, and the operator got a traceback instead of a result.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }


def apply_offline_environment(settings: Settings) -> None:
    """Set :func:`offline_environment` defaults in ``os.environ`` (before Prefect is imported)."""
    for key, value in offline_environment(settings).items():
        os.environ.setdefault(key, value)
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
