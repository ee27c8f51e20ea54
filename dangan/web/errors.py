"""Errors of the link server and its tokens (codes ``WEB_*``)."""

from __future__ import annotations

from dangan.errors import PermanentError


class WebTokenInvalid(PermanentError):
    """A link or viewer token is missing, malformed, tampered with, or signed with another key."""

    code = "WEB_TOKEN_INVALID"
    default_hint = (
        "Open the link again from the latest report or run `dangan web token`; links are signed with this "
        "server's key and cannot be edited (链接无效：请从最新报告重新打开链接)."
    )


class WebTokenExpired(PermanentError):
    """A link or viewer token is past its expiry."""

    code = "WEB_TOKEN_EXPIRED"
    default_hint = (
        "The link has expired; rerun the report or `dangan web token` to get a fresh one (链接已过期：请重新生成)."
    )


class WebSecretUnavailable(PermanentError):
    """No signing key: the key file cannot be read or created, or the configured variable is too short."""

    code = "WEB_SECRET_UNAVAILABLE"
    default_hint = (
        "Set the variable named by [web] secret_env to a random value of at least 32 characters on every host "
        "that makes or serves links, or make <data_dir>/web/ writable (签名密钥不可用)."
    )
