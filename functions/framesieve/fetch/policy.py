"""Fetch policy: the URLs a deployment may fetch and the limits on each download."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from framesieve.settings import Settings

logger = logging.getLogger(__name__)

# NOTE: no setting exists for the whole-download limit yet. An hour covers
# 4 GiB at about 1.2 MB/s, and a Lambda invocation would stop at 15 minutes anyway.
DEFAULT_TOTAL_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class FetchPolicy:
    """Rules for one deployment: what a URL may point at, and size and time limits.

    ``timeout_seconds`` bounds the TCP connect and each wait for data.
    ``total_timeout_seconds`` bounds a whole download, redirects included.
    ``ca_bundle`` replaces the certifi roots for HTTPS, for a private CA.
    """

    allow_file_urls: bool
    media_root: Path | None
    allow_loopback: bool
    max_bytes: int
    max_redirects: int
    timeout_seconds: float
    total_timeout_seconds: float = DEFAULT_TOTAL_TIMEOUT_SECONDS
    ca_bundle: Path | None = None
    backend: str = "embedded"

    def __post_init__(self) -> None:
        if self.allow_file_urls and self.media_root is None:
            raise ValueError("allow_file_urls needs a media_root to confine file:// URLs to")
        if self.max_bytes <= 0 or self.max_redirects < 0:
            raise ValueError(f"invalid fetch limits: max_bytes={self.max_bytes}, max_redirects={self.max_redirects}")
        if self.timeout_seconds <= 0 or self.total_timeout_seconds <= 0:
            raise ValueError("fetch timeouts must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> "FetchPolicy":
        """Build the policy; the aws backend never fetches file:// or loopback URLs.

        On AWS the fetch runs beside the instance metadata service and other
        tenants' jobs, so those settings are ignored there whatever their values.
        """
        on_aws = settings.backend == "aws"
        if on_aws and (settings.media_root is not None or settings.allow_loopback_urls):
            logger.warning(
                "fetch policy: FRAMESIEVE_MEDIA_ROOT and FRAMESIEVE_ALLOW_LOOPBACK_URLS are ignored on the aws backend"
            )

        media_root = None if on_aws or settings.media_root is None else settings.media_root.resolve()
        return cls(
            allow_file_urls=media_root is not None,
            media_root=media_root,
            allow_loopback=settings.allow_loopback_urls and not on_aws,
            max_bytes=settings.max_video_bytes,
            max_redirects=settings.max_redirects,
            timeout_seconds=settings.fetch_timeout_seconds,
            backend=settings.backend,
        )
