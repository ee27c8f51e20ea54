"""Errors of the analytics package (stable codes, operator text in English and Chinese)."""

from __future__ import annotations

from dangan.errors import PermanentError


class PersonNotFound(PermanentError):
    """The person asked for is not in the site's catalog."""

    code = "ANALYTICS_PERSON_NOT_FOUND"
    default_hint = (
        "Give the catalog person id or the 18-character resident ID of a person of this site "
        "(请输入本档案室参保人的编号或公民身份号码)."
    )
