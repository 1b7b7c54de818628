"""Contract tests for the blob stores: a local folder and S3 through moto's
in-process ``mock_aws`` (the only AWS stand-in)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from moto import mock_aws

from framesieve.blobs.base import BlobStore
from framesieve.blobs.local import LocalBlobStore
from framesieve.blobs.s3 import S3BlobStore
from framesieve.errors import NotFound, RecordNotFound, StorageError

REGION = "us-east-1"
BUCKET = "framesieve-test-blobs"
SECRET = b"k" * 32
MIB = 1024 * 1024


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 at fake credentials and no custom endpoint, so nothing reaches a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3_store(fake_aws_credentials: None) -> Iterator[S3BlobStore]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=BUCKET)
        # 5 MiB parts, the smallest S3 accepts, so the 7.8 MiB demo clip
        # travels as a real two-part multipart upload.
        config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        yield S3BlobStore(BUCKET, client=client, transfer_config=config)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", "http://127.0.0.1:8000", secret=SECRET)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    return request.getfixturevalue(f"{request.param}_store")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_bytes_round_trip_and_overwrite(store: BlobStore) -> None:
    store.put_bytes("c/p/frames.json", b'{"frames": []}', "application/json")
    assert store.get_bytes("c/p/frames.json") == b'{"frames": []}'

    store.put_bytes("c/p/frames.json", b"{}")
    assert store.get_bytes("c/p/frames.json") == b"{}"
    assert store.exists("c/p/frames.json")


def test_file_round_trip_streams_video(store: BlobStore, demo_video: Path, tmp_path: Path) -> None:
    store.put_file("c/p/transit/job-1/video", demo_video, "video/x-msvideo")
    target = tmp_path / "downloaded.avi"

    store.download_file("c/p/transit/job-1/video", target)

    assert target.stat().st_size == demo_video.stat().st_size
    assert sha256_of(target) == sha256_of(demo_video)


def test_missing_key(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(RecordNotFound):
        store.get_bytes("c/p/absent")
    with pytest.raises(RecordNotFound):
        store.download_file("c/p/absent", tmp_path / "absent")

    assert not store.exists("c/p/absent")
    assert not (tmp_path / "absent").exists()


def test_list_keys_treats_prefix_as_folder(store: BlobStore) -> None:
    for key in ("c/p/videos/j1/frames/00000001.jpg", "c/p/videos/j1/frames/00000000.jpg", "c/p/videos/j10/frames.json"):
        store.put_bytes(key, b"x")

    assert store.list_keys("c/p/videos/j1") == [
        "c/p/videos/j1/frames/00000000.jpg",
        "c/p/videos/j1/frames/00000001.jpg",
    ]
    assert store.list_keys("c/p/videos/j1/") == store.list_keys("c/p/videos/j1")
    assert store.list_keys("c/p/nothing") == []


def test_delete_prefix(store: BlobStore) -> None:
    for number in range(5):
        store.put_bytes(f"c/p/videos/j1/frames/{number:08d}.jpg", b"frame")
    store.put_bytes("c/p/videos/j10/frames.json", b"{}")

    assert store.delete_prefix("c/p/videos/j1") == 5

    assert store.list_keys("c/p/videos/j1") == []
    assert store.exists("c/p/videos/j10/frames.json")
    assert store.delete_prefix("c/p/videos/j1") == 0


def test_delete_prefix_of_single_object(store: BlobStore) -> None:
    store.put_bytes("c/p/transit/j1/video", b"video")

    assert store.delete_prefix("c/p/transit/j1/video") == 1
    assert not store.exists("c/p/transit/j1/video")


@pytest.mark.parametrize("key", ["../outside", "/absolute/key", "c/../../outside", ""])
def test_invalid_keys_rejected(store: BlobStore, key: str) -> None:
    with pytest.raises(StorageError):
        store.put_bytes(key, b"x")


def test_storage_uri(local_store: LocalBlobStore, s3_store: S3BlobStore) -> None:
    assert s3_store.storage_uri("c/p/video") == f"s3://{BUCKET}/c/p/video"
    assert local_store.storage_uri("c/p/video") == (local_store.root / "c" / "p" / "video").as_uri()


# S3 links


def test_s3_presigned_url_downloads(s3_store: S3BlobStore) -> None:
    s3_store.put_bytes("c/p/exports/e1/metadata.json", b'{"samples": 3}', "application/json")

    url = s3_store.presigned_url("c/p/exports/e1/metadata.json", 600)
    # moto intercepts this request in-process; nothing leaves the machine.
    # NOTE: moto 5.2 does not verify presigned signatures, so a tampered URL
    # also downloads under moto; only real S3 rejects it.
    response = requests.get(url, timeout=10)

    assert response.status_code == 200
    assert response.content == b'{"samples": 3}'
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["600"]
    assert "X-Amz-Signature" in query


def test_s3_put_file_uploads_in_parts(s3_store: S3BlobStore, demo_video: Path) -> None:
    s3_store.put_file("c/p/transit/job-1/video", demo_video, "video/x-msvideo")

    head = s3_store.client.head_object(Bucket=BUCKET, Key="c/p/transit/job-1/video")

    # A multipart ETag ends in "-<part count>": 7.8 MiB in 5 MiB parts is 2.
    assert head["ETag"].strip('"').endswith("-2")
    assert head["ContentLength"] == demo_video.stat().st_size
    assert head["ContentType"] == "video/x-msvideo"


def test_s3_resolve_link_not_served(s3_store: S3BlobStore) -> None:
    s3_store.put_bytes("c/p/video", b"x")
    url = s3_store.presigned_url("c/p/video", 600)

    with pytest.raises(NotFound):
        s3_store.resolve_link(url.rsplit("/", 1)[-1])


def test_s3_missing_bucket_is_storage_error(fake_aws_credentials: None) -> None:
    with mock_aws():
        store = S3BlobStore("no-such-bucket", client=boto3.client("s3", region_name=REGION))

        with pytest.raises(StorageError):
            store.put_bytes("c/p/video", b"x")
        with pytest.raises(StorageError):
            store.list_keys("c/p")


def test_s3_delete_prefix_pages_past_1000(s3_store: S3BlobStore) -> None:
    for number in range(1005):
        s3_store.client.put_object(Bucket=BUCKET, Key=f"c/p/videos/j1/frames/{number:08d}.jpg", Body=b"")

    assert len(s3_store.list_keys("c/p/videos/j1")) == 1005
    assert s3_store.delete_prefix("c/p/videos/j1") == 1005
    assert s3_store.list_keys("c/p/videos/j1") == []


def test_s3_client_made_lazily(fake_aws_credentials: None) -> None:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        store = S3BlobStore(BUCKET)
        assert store._client is None

        store.put_bytes("c/p/x", b"1")

        first_client = store.client
        assert store.client is first_client
        assert store.get_bytes("c/p/x") == b"1"
        query = parse_qs(urlparse(store.presigned_url("c/p/x", 60)).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


# Local links


def token_of(url: str) -> str:
    return url.rsplit("/v1/blobs/", 1)[1]


def sign(payload: bytes) -> str:
    signature = hmac.new(SECRET, payload, hashlib.sha256).digest()

    def encode(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")

    return f"{encode(payload)}.{encode(signature)}"


def test_local_link_resolves(local_store: LocalBlobStore) -> None:
    local_store.put_bytes("c/p/exports/e1/metadata.json", b'{"samples": 3}')

    url = local_store.presigned_url("c/p/exports/e1/metadata.json", 600)
    path = local_store.resolve_link(token_of(url))

    assert url.startswith("http://127.0.0.1:8000/v1/blobs/")
    assert path.read_bytes() == b'{"samples": 3}'


def test_local_link_rejects_tampering(local_store: LocalBlobStore) -> None:
    local_store.put_bytes("c/p/e1", b"one")
    local_store.put_bytes("c/p/e2", b"two")
    token = token_of(local_store.presigned_url("c/p/e1", 600))
    payload_text, signature_text = token.split(".")
    payload = base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4))
    forged_payload = payload.replace(b"c/p/e1", b"c/p/e2")
    forged = base64.urlsafe_b64encode(forged_payload).decode().rstrip("=") + "." + signature_text

    with pytest.raises(NotFound):
        local_store.resolve_link(forged)
    with pytest.raises(NotFound):
        local_store.resolve_link(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(NotFound):
        local_store.resolve_link("not-a-token")


def test_local_link_expires(local_store: LocalBlobStore) -> None:
    local_store.put_bytes("c/p/e1", b"one")

    token = token_of(local_store.presigned_url("c/p/e1", -10))

    with pytest.raises(NotFound):
        local_store.resolve_link(token)


def test_local_link_rejects_key_outside_root(local_store: LocalBlobStore) -> None:
    secret_file = local_store.root.parent / "outside.txt"
    secret_file.write_bytes(b"not a blob")
    expires = int(time.time()) + 600

    # The tokens are correctly signed, so only the key check keeps them from the file.
    for key in ("../outside.txt", "/etc/hostname", "c/../../outside.txt"):
        token = sign(f"{expires}:{key}".encode())
        with pytest.raises(NotFound):
            local_store.resolve_link(token)


def test_local_link_secret_persists(tmp_path: Path) -> None:
    first = LocalBlobStore(tmp_path / "blobs", "http://127.0.0.1:8000")
    first.put_bytes("c/p/e1", b"one")
    token = token_of(first.presigned_url("c/p/e1", 600))

    second = LocalBlobStore(tmp_path / "blobs", "http://127.0.0.1:8000")

    assert second.resolve_link(token).read_bytes() == b"one"
    assert oct(os.stat(tmp_path / "link-secret").st_mode & 0o777) == "0o600"
