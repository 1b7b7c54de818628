"""Settings, read once from ``FRAMESIEVE_*`` environment variables.

Every setting has a default that runs the embedded backend on one machine.
The README lists each variable; keep that table in step with this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "FRAMESIEVE_"


def _env(name: str, default: str) -> str:
    return os.environ.get(PREFIX + name, default)


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "true" if default else "false").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{PREFIX}{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """All run-time configuration; build it with :meth:`from_env`."""

    backend: str = "embedded"
    home: Path = Path(".framesieve")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    media_root: Path | None = None
    allow_loopback_urls: bool = False
    link_ttl_seconds: int = 3600
    segment_frames: int = 3000
    frame_queue_size: int = 16
    jpeg_quality: int = 90
    workers: int = 2
    fetch_timeout_seconds: float = 60.0
    max_video_bytes: int = 4 * 1024**3
    max_redirects: int = 5
    max_model_bytes: int = 256 * 1024**2
    default_videos_quota: int = 1000
    default_hours_quota: float = 100.0
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 100
    # AWS backend
    aws_table_prefix: str = "framesieve"
    aws_blob_bucket: str = ""
    aws_export_bucket: str = ""
    aws_job_state_machine_arn: str = ""
    aws_export_state_machine_arn: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """URL clients reach this server at, used to build local signed links."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> "Settings":
        backend = _env("BACKEND", "embedded")
        if backend not in ("embedded", "aws"):
            raise ValueError(f"{PREFIX}BACKEND must be 'embedded' or 'aws', got {backend!r}")

        media_root = _env("MEDIA_ROOT", "")
        return cls(
            backend=backend,
            home=Path(_env("HOME", ".framesieve")).resolve(),
            host=_env("HOST", "127.0.0.1"),
            port=_env_int("PORT", 8000),
            public_url=_env("PUBLIC_URL", "").rstrip("/"),
            media_root=Path(media_root).resolve() if media_root else None,
            allow_loopback_urls=_env_bool("ALLOW_LOOPBACK_URLS", False),
            link_ttl_seconds=_env_int("LINK_TTL_SECONDS", 3600),
            segment_frames=_env_int("SEGMENT_FRAMES", 3000),
            frame_queue_size=_env_int("FRAME_QUEUE_SIZE", 16),
            jpeg_quality=_env_int("JPEG_QUALITY", 90),
            workers=_env_int("WORKERS", 2),
            fetch_timeout_seconds=_env_float("FETCH_TIMEOUT_SECONDS", 60.0),
            max_video_bytes=_env_int("MAX_VIDEO_BYTES", 4 * 1024**3),
            max_redirects=_env_int("MAX_REDIRECTS", 5),
            max_model_bytes=_env_int("MAX_MODEL_BYTES", 256 * 1024**2),
            default_videos_quota=_env_int("DEFAULT_VIDEOS_QUOTA", 1000),
            default_hours_quota=_env_float("DEFAULT_HOURS_QUOTA", 100.0),
            rate_limit_per_second=_env_float("RATE_LIMIT_PER_SECOND", 20.0),
            rate_limit_burst=_env_int("RATE_LIMIT_BURST", 100),
            aws_table_prefix=_env("AWS_TABLE_PREFIX", "framesieve"),
            aws_blob_bucket=_env("AWS_BLOB_BUCKET", ""),
            aws_export_bucket=_env("AWS_EXPORT_BUCKET", ""),
            aws_job_state_machine_arn=_env("AWS_JOB_STATE_MACHINE_ARN", ""),
            aws_export_state_machine_arn=_env("AWS_EXPORT_STATE_MACHINE_ARN", ""),
        )
