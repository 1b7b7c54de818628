"""Settings of the model runtime, read from ``FRAMESIEVE_MODEL_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# functions/framesieve/models/settings.py -> the repository root.
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CACHE = REPO_ROOT / ".cache" / "models"

CACHE_VARIABLE = "FRAMESIEVE_MODEL_CACHE"
THREADS_VARIABLE = "FRAMESIEVE_MODEL_THREADS"
BATCH_SIZE_VARIABLE = "FRAMESIEVE_MODEL_BATCH_SIZE"


def _non_negative_int(variable: str, default: int) -> int:
    raw = os.environ.get(variable, str(default))
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{variable} must be an integer, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{variable} must be 0 or more, got {value}")
    return value


@dataclass(frozen=True)
class ModelSettings:
    """Model cache folder and onnxruntime session options.

    ``threads`` sets both intra-op and inter-op thread counts, and 0 keeps
    onnxruntime's own choice.
    ``batch_size`` is the most frames given to one ``InferenceSession.run``.
    """

    cache_dir: Path = DEFAULT_CACHE
    threads: int = 0
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.threads < 0:
            raise ValueError(f"threads must be 0 or more, got {self.threads}")

    @classmethod
    def from_env(cls) -> "ModelSettings":
        cache = os.environ.get(CACHE_VARIABLE, "")
        return cls(
            cache_dir=Path(cache).resolve() if cache else DEFAULT_CACHE,
            threads=_non_negative_int(THREADS_VARIABLE, 0),
            batch_size=max(1, _non_negative_int(BATCH_SIZE_VARIABLE, 8)),
        )
