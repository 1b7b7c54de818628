"""Fetch client-supplied URLs without reaching internal addresses (SSRF protection)."""

from framesieve.fetch.download import FetchResult, fetch_to_file, format_size
from framesieve.fetch.policy import FetchPolicy
from framesieve.fetch.urls import MAX_URL_LENGTH, ForbiddenAddress, UrlRejected, check_url, redact_url

__all__ = [
    "MAX_URL_LENGTH",
    "FetchPolicy",
    "FetchResult",
    "ForbiddenAddress",
    "UrlRejected",
    "check_url",
    "fetch_to_file",
    "format_size",
    "redact_url",
]
