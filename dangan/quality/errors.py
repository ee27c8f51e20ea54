"""Errors of validation (stable codes, permanent: retrying will not help)."""

from __future__ import annotations

from dangan.errors import PermanentError


class SuiteIntegrityError(PermanentError):
    """A loaded expectation suite lost expectations (GX drops unregistered expectation types silently)."""

    code = "QUALITY_SUITE_INCOMPLETE"
    default_hint = "Import dangan.quality.expectations before loading a suite."
