"""Build a complete framesieve stack for API tests, on either adapter set.

``embedded``: SQLite records and a blob folder under a temporary directory.
``aws``: DynamoDB tables and an S3 bucket in moto's in-process AWS stand-in.
Both run jobs with the local executor, so the same pipeline steps write to
the store under test.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from chalice.test import Client

from framesieve import runtime
from framesieve.api import app
from framesieve.auth import create_api_key
from framesieve.blobs.local import LocalBlobStore
from framesieve.executor.local import LocalExecutor
from framesieve.settings import Settings

BACKENDS = ["embedded", "aws"]


@contextlib.contextmanager
def fake_aws_credentials() -> Iterator[None]:
    """Credentials moto accepts; they reach no real account."""
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Stack:
    """A running stack: the Chalice test client, the runtime and helpers."""

    def __init__(self, current: runtime.Runtime, client: Client) -> None:
        self.runtime = current
        self.client = client

    def new_key(self, name: str = "tester", **quota) -> str:
        raw_key, _ = create_api_key(self.runtime.records, name, **quota)
        return raw_key

    def call(self, method: str, endpoint: str, key: str | None, body: object = None, query: str = ""):
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["X-API-Key"] = key
        path = f"/v1/{endpoint}" + (f"?{query}" if query else "")
        if method == "GET":
            response = self.client.http.get(path, headers=headers)
        else:
            if isinstance(body, (str, bytes)):
                payload = body
            else:
                payload = json.dumps(body if body is not None else {})
            response = self.client.http.post(path, headers=headers, body=payload)
        return response.status_code, json.loads(response.body) if response.body else None

    def wait_idle(self) -> None:
        assert self.runtime.executor.wait_idle(timeout=300), "jobs did not finish within 300 s"


@contextlib.contextmanager
def build_stack(backend: str, workdir: Path, media_root: Path, **overrides) -> Iterator[Stack]:
    settings = replace(
        Settings(),
        home=workdir / "home",
        media_root=media_root,
        segment_frames=overrides.pop("segment_frames", 3000),
        rate_limit_per_second=overrides.pop("rate_limit_per_second", 1000.0),
        rate_limit_burst=overrides.pop("rate_limit_burst", 10000),
        **overrides,
    )
    settings.home.mkdir(parents=True, exist_ok=True)

    with contextlib.ExitStack() as stack:
        exports = None
        if backend == "embedded":
            from framesieve.records.sqlite import SqliteRecordStore

            records = SqliteRecordStore(settings.home / "records.sqlite3")
            blobs = LocalBlobStore(settings.home / "blobs", settings.base_url)
        else:
            from moto import mock_aws

            from framesieve.blobs.s3 import S3BlobStore
            from framesieve.records.dynamo import DynamoRecordStore

            stack.enter_context(fake_aws_credentials())
            stack.enter_context(mock_aws())
            import boto3

            bucket = f"framesieve-test-{uuid.uuid4().hex[:8]}"
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=f"{bucket}-exports")
            exports = S3BlobStore(f"{bucket}-exports")
            records = DynamoRecordStore(f"test{uuid.uuid4().hex[:6]}", region="us-east-1")
            records.create_tables()
            blobs = S3BlobStore(bucket)

        executor = LocalExecutor(settings.workers)
        current = runtime.Runtime(settings=settings, records=records, blobs=blobs, executor=executor, exports=exports)
        runtime.install(current)
        try:
            with Client(app) as client:
                yield Stack(current, client)
        finally:
            executor.close()
            runtime.install(None)
