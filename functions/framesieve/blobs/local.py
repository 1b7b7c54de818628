"""Blob store on a local folder, with HMAC-signed expiring download links.

Links point at the local server's ``/v1/blobs/{token}`` route; the token
carries the key and its expiry and is signed with a secret kept in the data
folder, so a link cannot be altered to reach another key or live longer.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from framesieve.blobs.base import BlobStore
from framesieve.errors import NotFound, RecordNotFound, StorageError

logger = logging.getLogger(__name__)

_COPY_CHUNK = 1024 * 1024

# Temporary files start with this; list_keys skips them.
_TEMP_PREFIX = ".tmp-"

# Each store caches the folders it has created. The cache is emptied when it
# reaches this size, so a long-lived store does not grow without bound.
_MAX_KNOWN_FOLDERS = 4096


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path, base_url: str, secret: bytes | None = None) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self._secret = secret if secret is not None else self._load_secret()
        self._known_folders: dict[str, str] = {}
        # Temporary names are this store's random token plus a counter, so
        # they are unique across threads and across processes that share a
        # PID (a container's first process is PID 1). O_EXCL turns the
        # unlikely clash with a name left by a killed writer into an error
        # rather than a shared file.
        self._temp_token = secrets.token_hex(6)
        self._temp_counter = itertools.count()

    def _load_secret(self) -> bytes:
        # The secret lives beside the blobs, not under them, so no key reaches it.
        path = self.root.parent / "link-secret"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        return path.read_bytes()

    def path_for(self, key: str) -> Path:
        """Map a key to its file, rejecting any key that would leave the root."""
        posix = PurePosixPath(key)
        if posix.is_absolute() or not posix.parts or any(part in ("..", ".", "") for part in posix.parts):
            raise StorageError(f"invalid blob key {key!r}")
        path = self.root.joinpath(*posix.parts)
        if self.root not in path.parents:
            raise StorageError(f"invalid blob key {key!r}")
        return path

    def _folder_for(self, key: str) -> tuple[str, str]:
        """Return the folder and file name of ``key``, creating the folder. Keys are checked as in ``path_for``.

        Frames of one video share a folder, so after the first key of a
        folder only the file name needs checking.
        """
        folder_key, _, name = key.rpartition("/")
        folder = self._known_folders.get(folder_key)
        if folder is not None and name not in ("", ".", ".."):
            return folder, name

        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = str(path.parent)
        # PurePosixPath drops a trailing "/" or "/.", so only a key that ends
        # in its file name maps its folder part to path.parent.
        if path.name == name:
            if len(self._known_folders) >= _MAX_KNOWN_FOLDERS:
                self._known_folders.clear()
            self._known_folders[folder_key] = folder
        return folder, path.name

    def _create_temp(self, folder: str) -> tuple[int, str]:
        temp = os.path.join(folder, f"{_TEMP_PREFIX}{self._temp_token}-{next(self._temp_counter)}")
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), temp

    def _open_temp(self, key: str) -> tuple[int, str, str]:
        """Create an empty temporary file beside ``key``'s file; return its descriptor, its path and the final path."""
        folder, name = self._folder_for(key)
        try:
            fd, temp = self._create_temp(folder)
        except FileNotFoundError:
            # delete_prefix, or another process, removed a cached folder.
            self._known_folders.clear()
            folder, name = self._folder_for(key)
            fd, temp = self._create_temp(folder)
        return fd, temp, os.path.join(folder, name)

    def _write_atomically(self, key: str, write: Callable[[int], None]) -> None:
        """Write through a temporary file renamed over the target, so readers see the old or the new file whole."""
        try:
            fd, temp, target = self._open_temp(key)
            try:
                try:
                    write(fd)
                finally:
                    os.close(fd)
                os.replace(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            raise StorageError(f"could not write blob {key!r}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        def write(fd: int) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]

        self._write_atomically(key, write)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        def copy(fd: int) -> None:
            with open(path, "rb") as source, open(fd, "wb", closefd=False) as handle:
                shutil.copyfileobj(source, handle, _COPY_CHUNK)

        self._write_atomically(key, copy)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path_for(key).read_bytes()
        except FileNotFoundError as exc:
            raise RecordNotFound(f"blob {key!r} not found") from exc
        except OSError as exc:
            raise StorageError(f"could not read blob {key!r}: {exc}") from exc

    def download_file(self, key: str, path: Path) -> None:
        source = self.path_for(key)
        if not source.is_file():
            raise RecordNotFound(f"blob {key!r} not found")
        try:
            shutil.copyfile(source, path)
        except OSError as exc:
            raise StorageError(f"could not copy blob {key!r}: {exc}") from exc

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.path_for(key)
        if not path.is_file():
            raise RecordNotFound(f"blob {key!r} not found")
        yield path

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        base = self.path_for(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        keys = []
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(_TEMP_PREFIX):
                keys.append(path.relative_to(self.root).as_posix())
        return keys

    def delete_prefix(self, prefix: str) -> int:
        base = self.path_for(prefix.rstrip("/"))
        if base.is_file():
            base.unlink()
            return 1
        if not base.is_dir():
            return 0
        count = sum(1 for path in base.rglob("*") if path.is_file())
        shutil.rmtree(base, ignore_errors=True)
        logger.debug("deleted %d blobs under %s", count, prefix)
        return count

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        self.path_for(key)
        expires = int(time.time()) + int(expires_seconds)
        payload = f"{expires}:{key}".encode("utf-8")
        signature = hmac.new(self._secret, payload, hashlib.sha256).digest()
        token = f"{_b64encode(payload)}.{_b64encode(signature)}"
        return f"{self.base_url}/v1/blobs/{token}"

    def resolve_link(self, token: str) -> Path:
        """Check a link token and return the file it grants; ``NotFound`` otherwise.

        Every failure reads the same to the client, so a token cannot be
        probed for which part was wrong.
        """
        invalid = NotFound("link is invalid or has expired")
        try:
            payload_text, signature_text = token.split(".", 1)
            payload = _b64decode(payload_text)
            signature = _b64decode(signature_text)
        except (ValueError, TypeError):
            raise invalid from None

        expected = hmac.new(self._secret, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            raise invalid

        expires_text, _, key = payload.decode("utf-8", "replace").partition(":")
        if not expires_text.isdigit() or int(expires_text) < time.time():
            raise invalid
        try:
            path = self.path_for(key)
        except StorageError:
            raise invalid from None
        if not path.is_file():
            raise invalid
        return path

    def storage_uri(self, key: str) -> str:
        return self.path_for(key).as_uri()
