"""Errors of extraction, validation and review (stable codes, permanent: retrying will not help)."""

from __future__ import annotations

from dangan.errors import PermanentError
from dangan.quality.errors import SuiteIntegrityError as SuiteIntegrityError  # defined by validation


class VocabularyError(PermanentError):
    """The label vocabulary file is unreadable or inconsistent."""

    code = "EXTRACT_VOCABULARY_INVALID"
    default_hint = "Fix the label vocabulary TOML (see dangan/extract/labels.toml for the format)."


class DocumentNotFound(PermanentError):
    code = "EXTRACT_DOCUMENT_NOT_FOUND"


class CorrectionRejected(PermanentError):
    """A review correction names an unknown field or a value that cannot be stored."""

    code = "REVIEW_CORRECTION_INVALID"
    default_hint = "Correct only fields shown in the review table; contribution cells as contributions.N.COLUMN."
