"""Links and the small server (``dangan serve``) that serves objects, Data Docs and review pages over HTTP.

Artifacts and CLI output carry ``http(s)://`` links made by :mod:`dangan.web.links` (never ``file://`` paths,
never pre-signed S3 URLs); the server checks each link's expiring HMAC token before serving anything.
"""
