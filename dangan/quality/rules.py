"""Validation thresholds and vocabularies (configurable per deployment; defaults suit the sample forms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

KEY_FIELDS = ("name", "id_number", "birth_date", "employer_name", "contribution_base", "months_paid")


class QualityRules(BaseModel):
    """What validation checks against. Amount bounds are decimal strings (never floats)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence_threshold: float = Field(
        default=0.85, ge=0.0, le=1.0, description="minimum OCR confidence of key fields"
    )
    key_fields: tuple[str, ...] = KEY_FIELDS
    min_base: str = Field(default="500.00", description="lowest plausible monthly contribution base")
    max_base: str = Field(default="60000.00", description="highest plausible monthly contribution base")
    amount_tolerance: str = Field(default="0.01", description="employer + personal vs total, rounding allowance")
    contribution_flags: tuple[str, ...] = ("正常", "补缴", "欠缴", "退费", "预缴", "缓缴")
    required: dict[str, tuple[str, ...]] = {
        "registration": ("name", "sex", "id_number", "birth_date", "employer_name", "insured_since"),
        "account_statement": ("name", "id_number", "months_paid"),
        "transfer_form": ("name", "id_number", "insured_since", "months_paid"),
    }


def rules_from(settings: Any) -> QualityRules:
    """Rules from ``settings.quality`` when the settings object has such a mapping, else the defaults."""
    overrides = getattr(settings, "quality", None) or {}
    return QualityRules(**dict(overrides))


def data_docs_dir(settings: Any, site: str) -> Path:
    """Where Data Docs of ``site`` are built: ``<data_dir>/data_docs/<site>``."""
    return Path(settings.data_dir) / "data_docs" / site
