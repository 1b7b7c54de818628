"""Convert TensorFlow weights to ONNX with tf2onnx, in a separate virtual environment.

TensorFlow 2.15 needs ``numpy<2`` and is about 1.3 GB installed, so it lives in
its own venv under the cache, created only when a conversion is due, and is
never imported by the runtime.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import onnx

from framesieve.models.build.canonical import canonicalize
from framesieve.models.build.sources import BuildError, DownloadError
from framesieve.models.catalog import ONNX_OPSET, TF_GRAPHDEF, TFLITE, BuiltinModel

logger = logging.getLogger(__name__)

CONVERTER_REQUIREMENTS = (
    "tensorflow-cpu==2.15.1",
    "tf2onnx==1.16.1",
    "onnx==1.16.2",
    "numpy==1.26.4",
)
_READY_MARKER = "framesieve-converter-ready"


def _marker_text() -> str:
    return "\n".join(CONVERTER_REQUIREMENTS) + "\n"


def ensure_converter(venv: Path) -> Path:
    """Create the converter venv at ``venv`` unless a complete one with the pinned packages is there; return its python."""
    python = venv / "bin" / "python"
    marker = venv / _READY_MARKER
    if marker.is_file() and marker.read_text() == _marker_text() and python.is_file():
        return python

    logger.info("creating converter venv at %s with %s", venv, " ".join(CONVERTER_REQUIREMENTS))
    # Only the install step needs the package index.
    steps = [
        ([sys.executable, "-m", "venv", "--clear", str(venv)], BuildError),
        ([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *CONVERTER_REQUIREMENTS], DownloadError),
    ]
    for command, error in steps:
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise error(
                f"creating the converter venv failed at `{' '.join(command[:4])} ...` "
                f"(exit {completed.returncode}): {completed.stderr.strip()[-2000:]}"
            )

    marker.write_text(_marker_text())
    logger.info("converter venv ready at %s", venv)
    return python


def _tf2onnx_command(python: Path, model: BuiltinModel, source_file: Path, output: Path) -> list[str]:
    command = [str(python), "-m", "tf2onnx.convert", "--opset", str(ONNX_OPSET), "--output", str(output)]
    if model.conversion == TF_GRAPHDEF:
        return command + [
            "--graphdef", str(source_file),
            "--inputs", ",".join(model.inputs),
            "--outputs", ",".join(model.outputs),
        ]
    if model.conversion == TFLITE:
        return command + ["--tflite", str(source_file)]
    raise BuildError(f"model {model.name!r} has conversion {model.conversion!r}, which tf2onnx does not handle")


def convert_to_onnx(python: Path, model: BuiltinModel, source_file: Path, work_dir: Path) -> bytes:
    """Convert ``source_file`` with tf2onnx and return the canonical ONNX bytes."""
    raw_output = work_dir / f"{model.name}.tf2onnx.onnx"
    command = _tf2onnx_command(python, model, source_file, raw_output)

    # Quiet TensorFlow's start-up banner; the errors still reach stderr.
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    logger.info("converting %s with tf2onnx (opset %d)", source_file.name, ONNX_OPSET)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0 or not raw_output.is_file():
        raise BuildError(
            f"tf2onnx failed on {source_file.name} (exit {completed.returncode}): {completed.stderr.strip()[-3000:]}"
        )

    canonical = canonicalize(onnx.load(str(raw_output)))
    data = canonical.SerializeToString(deterministic=True)
    logger.info("converted %s: %d bytes, sha256 %s", model.name, len(data), hashlib.sha256(data).hexdigest())
    return data
