"""The blob store interface that each backend implements.

Keys are relative POSIX paths made by :mod:`framesieve.keys`; a store never
receives a key a client typed. Writes are atomic: a reader sees the whole
object or none of it. Errors surface as ``RecordNotFound`` for a missing key
and ``StorageError`` for a backend failure.
"""

from __future__ import annotations

import abc
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class BlobStore(abc.ABC):
    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        ...

    @abc.abstractmethod
    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        """Upload a local file without reading it whole into memory."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        ...

    @abc.abstractmethod
    def download_file(self, key: str, path: Path) -> None:
        """Copy an object to a local file, streaming."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        ...

    @abc.abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        ...

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many."""

    @abc.abstractmethod
    def presigned_url(self, key: str, expires_seconds: int) -> str:
        """Return a URL that downloads the object without an API key until it expires."""

    @abc.abstractmethod
    def storage_uri(self, key: str) -> str:
        """Return the object's address in the backend (``s3://...`` or ``file://...``)."""

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Yield a local file with the object's bytes, removed afterwards.

        Decoders need a seekable file; a store whose objects already are
        local files yields the file itself and copies nothing.
        """
        workdir = Path(tempfile.mkdtemp(prefix="framesieve-"))
        try:
            path = workdir / "object"
            self.download_file(key, path)
            yield path
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
