"""Locate built models in the cache and check them against their pinned checksums."""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

from framesieve.errors import FramesieveError
from framesieve.models.catalog import BUILTIN_MODELS, BuiltinModel

logger = logging.getLogger(__name__)

BUILD_COMMAND = ".venv/bin/python -m framesieve.models.build"


class ModelUnavailable(FramesieveError):
    """A model file is missing or does not match its checksum; tagging cannot run."""

    status = 503


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_current(model: BuiltinModel, cache_dir: Path) -> bool:
    """True when ``cache_dir`` contains ``model`` with its pinned checksum."""
    path = cache_dir / model.file_name
    return path.is_file() and sha256_of(path) == model.sha256


@lru_cache(maxsize=None)
def _verified_path(name: str, cache_dir: Path) -> Path:
    model = BUILTIN_MODELS[name]
    path = cache_dir / model.file_name
    if not path.is_file():
        raise ModelUnavailable(
            f"built-in model {name!r} not found at {path}; build it with `{BUILD_COMMAND} --cache {cache_dir}`"
        )

    actual = sha256_of(path)
    if actual != model.sha256:
        raise ModelUnavailable(
            f"built-in model {name!r} at {path} has sha256 {actual}, expected {model.sha256}; "
            f"delete the file and rebuild with `{BUILD_COMMAND} --cache {cache_dir}`"
        )

    logger.info("model %s verified at %s", name, path)
    return path


def builtin_model_path(name: str, cache_dir: Path) -> Path:
    """Path of built-in model ``name`` in ``cache_dir``, checked once per process against its sha256."""
    if name not in BUILTIN_MODELS:
        raise KeyError(f"unknown built-in model {name!r}; known: {sorted(BUILTIN_MODELS)}")
    return _verified_path(name, cache_dir.resolve())
