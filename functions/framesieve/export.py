"""Exports: the JSON manifest of a query and the tarball of its frames.

The manifest is written when the export is requested and is the export's
source of truth: the tarball contains exactly the frames it lists, even if
more videos finish in between.
"""

from __future__ import annotations

import json
import logging
import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from framesieve.blobs.base import BlobStore
from framesieve.errors import StorageError

logger = logging.getLogger(__name__)

MANIFEST_NAME = "metadata.json"


def frame_archive_path(video_name: str, frame_number: int) -> str:
    """Relative path of a frame inside the tarball."""
    path = PurePosixPath("frames") / video_name / f"{video_name}-{frame_number}.jpg"
    if path.is_absolute() or ".." in path.parts:
        raise StorageError(f"refusing archive path {path}")
    return str(path)


def write_manifest(
    blobs: BlobStore,
    key: str,
    header: dict,
    records: Iterable[dict],
) -> int:
    """Stream ``header`` plus ``{"samples": [...]}`` to a JSON blob; returns the sample count.

    Records are written one at a time to a temporary file, so a large export
    never sits in memory as one document.
    """
    count = 0
    with tempfile.TemporaryDirectory(prefix="framesieve-export-") as workdir:
        path = Path(workdir) / MANIFEST_NAME
        with open(path, "w", encoding="utf-8") as handle:
            head = json.dumps(header)[:-1]
            handle.write(head + (", " if header else "") + '"samples": [')
            for record in records:
                handle.write(",\n" if count else "\n")
                handle.write(json.dumps(record))
                count += 1
            handle.write(f'\n], "num_samples": {count}}}\n')
        blobs.put_file(key, path, content_type="application/json")
    return count


def build_tarball(frames_store: BlobStore, export_store: BlobStore, manifest_key: str, tar_key: str) -> int:
    """Write a gzipped tarball of the manifest and every frame it lists; returns the frame count.

    Frames are read from ``frames_store``; the manifest is read from and the
    tarball written to ``export_store``.
    """
    manifest_bytes = export_store.get_bytes(manifest_key)
    manifest = json.loads(manifest_bytes)
    frames = 0

    with tempfile.TemporaryDirectory(prefix="framesieve-tar-") as workdir:
        workdir_path = Path(workdir)
        tar_path = workdir_path / "export.tar.gz"
        manifest_path = workdir_path / MANIFEST_NAME
        manifest_path.write_bytes(manifest_bytes)

        with tarfile.open(tar_path, "w:gz") as archive:
            archive.add(manifest_path, arcname=MANIFEST_NAME)
            for sample in manifest["samples"]:
                frame_key = sample.get("frame_key")
                if not frame_key:
                    continue
                image = workdir_path / "frame.jpg"
                frames_store.download_file(frame_key, image)
                archive.add(image, arcname=sample["file"])
                frames += 1

        export_store.put_file(tar_key, tar_path, content_type="application/gzip")

    logger.info("export tarball written key=%s frames=%d", tar_key, frames)
    return frames


def time_created(timestamp: float) -> str:
    """Export timestamps in the spec's ``12/07/2021, 03:57:59`` form (UTC)."""
    return time.strftime("%m/%d/%Y, %H:%M:%S", time.gmtime(timestamp))
