"""Blob store on one S3 bucket, the AWS backend.

Files move with boto3's managed transfers (multipart, streaming, several
threads), so a multi-gigabyte video never sits whole in memory. Download
links are presigned GET URLs that S3 serves itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from framesieve.blobs.base import BlobStore
from framesieve.errors import NotFound, RecordNotFound, StorageError

logger = logging.getLogger(__name__)

# Keys of videos in transit contain this segment (see framesieve.keys), and
# the tag matches the expiry rule that infra/storage.py puts on the bucket.
TRANSIT_SEGMENT = "/transit/"
TRANSIT_TAG = "framesieve-transit=true"

# DeleteObjects accepts at most 1000 keys a request.
_DELETE_BATCH = 1000
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _check_key(key: str) -> str:
    """Reject keys that the local store would reject too, so both backends accept the same keys."""
    posix = PurePosixPath(key)
    if not key or posix.is_absolute() or any(part in ("..", ".") for part in posix.parts) or "//" in key:
        raise StorageError(f"invalid blob key {key!r}")
    return key


def _directory_prefix(prefix: str) -> str:
    """Return the listing prefix for the objects below ``prefix`` as a folder.

    ``a/b`` matches ``a/b/c`` but not ``a/bc``, as folders do in the local store.
    """
    return _check_key(prefix.rstrip("/")) + "/"


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, client: Any = None, transfer_config: TransferConfig | None = None) -> None:
        """Store objects in ``bucket``.

        ``client`` is a boto3 S3 client, made on first use if omitted; give
        it ``signature_version="s3v4"`` so presigned URLs use SigV4.
        ``transfer_config`` tunes multipart uploads and downloads; boto3's
        default splits files above 8 MiB into 8 MiB parts.
        """
        if not bucket:
            raise StorageError("no S3 bucket configured for blobs (set FRAMESIEVE_AWS_BLOB_BUCKET)")
        self.bucket = bucket
        self._client = client
        self._transfer_config = transfer_config or TransferConfig()
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        # boto3 clients are thread-safe once made, but making one is not.
        with self._client_lock:
            if self._client is None:
                # SigV4 presigned URLs work in every region and for KMS-encrypted objects.
                self._client = boto3.client("s3", config=Config(signature_version="s3v4"))
            return self._client

    @contextmanager
    def _s3_errors(self, operation: str, key: str) -> Iterator[None]:
        """Turn a missing object into ``RecordNotFound`` and any other failure into ``StorageError``."""
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING_CODES:
                raise RecordNotFound(f"blob {key!r} not found") from exc
            logger.error("S3 %s of s3://%s/%s failed: %s", operation, self.bucket, key, exc)
            raise StorageError(f"S3 {operation} of {key!r} failed: {code or exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            # Boto3Error covers S3UploadFailedError, which managed uploads raise
            # in place of the ClientError behind it.
            logger.error("S3 %s of s3://%s/%s failed: %s", operation, self.bucket, key, exc)
            raise StorageError(f"S3 {operation} of {key!r} failed: {exc}") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._s3_errors("put", _check_key(key)):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        extra_args = {"ContentType": content_type}
        if TRANSIT_SEGMENT in key:
            # Lifecycle rules cannot match a wildcard prefix, so the bucket's
            # expiry rule for videos in transit matches this tag instead.
            extra_args["Tagging"] = TRANSIT_TAG
        with self._s3_errors("upload", _check_key(key)):
            self.client.upload_file(
                str(path),
                self.bucket,
                key,
                ExtraArgs=extra_args,
                Config=self._transfer_config,
            )
        logger.debug("uploaded %s to s3://%s/%s", path, self.bucket, key)

    def get_bytes(self, key: str) -> bytes:
        with self._s3_errors("get", _check_key(key)):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()

    def download_file(self, key: str, path: Path) -> None:
        # download_file writes to a temporary name and renames it at the end,
        # so a failed transfer leaves no partial file at ``path``.
        with self._s3_errors("download", _check_key(key)):
            self.client.download_file(self.bucket, key, str(path), Config=self._transfer_config)

    def exists(self, key: str) -> bool:
        try:
            with self._s3_errors("head", _check_key(key)):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except RecordNotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> list[str]:
        listing_prefix = _directory_prefix(prefix)
        keys: list[str] = []
        with self._s3_errors("list", listing_prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=listing_prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> int:
        """Delete the object named ``prefix`` and every object below it as a folder."""
        keys = self.list_keys(prefix)
        if self.exists(prefix.rstrip("/")):
            keys.append(prefix.rstrip("/"))

        deleted = 0
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            with self._s3_errors("delete", prefix):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise StorageError(
                    f"S3 delete under {prefix!r} failed for {len(errors)} objects,"
                    f" first {first.get('Key')!r}: {first.get('Code')}"
                )
            deleted += len(batch)

        logger.debug("deleted %d blobs under s3://%s/%s", deleted, self.bucket, prefix)
        return deleted

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        with self._s3_errors("presign", _check_key(key)):
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=int(expires_seconds),
            )

    def resolve_link(self, token: str) -> Path:
        """Raise ``NotFound``: S3 serves its presigned links, so the API never resolves one."""
        raise NotFound("link is invalid or has expired")

    def storage_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{_check_key(key)}"
