"""The backends of one process, chosen once from settings.

Everything else gets ``records``, ``blobs`` and ``executor`` from here and
never reads the backend's name. Tests install their own with
:func:`install`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from framesieve.blobs.base import BlobStore
from framesieve.executor.base import Executor
from framesieve.records.base import RecordStore
from framesieve.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    records: RecordStore
    blobs: BlobStore
    executor: Executor | None = None
    exports: BlobStore | None = None

    @property
    def export_blobs(self) -> BlobStore:
        """Where export manifests and tarballs go; the blob store unless set apart."""
        return self.exports if self.exports is not None else self.blobs


_lock = threading.Lock()
_current: Runtime | None = None


def build(settings: Settings) -> Runtime:
    """Create the adapters that ``settings.backend`` names."""
    if settings.backend == "aws":
        from framesieve.blobs.s3 import S3BlobStore
        from framesieve.executor.stepfunctions import StepFunctionsExecutor
        from framesieve.records.dynamo import DynamoRecordStore

        return Runtime(
            settings=settings,
            records=DynamoRecordStore(settings.aws_table_prefix),
            blobs=S3BlobStore(settings.aws_blob_bucket),
            executor=StepFunctionsExecutor(
                settings.aws_job_state_machine_arn,
                settings.aws_export_state_machine_arn,
            ),
            exports=S3BlobStore(settings.aws_export_bucket) if settings.aws_export_bucket else None,
        )

    from framesieve.blobs.local import LocalBlobStore
    from framesieve.executor.local import LocalExecutor
    from framesieve.records.sqlite import SqliteRecordStore

    settings.home.mkdir(parents=True, exist_ok=True)
    return Runtime(
        settings=settings,
        records=SqliteRecordStore(settings.home / "records.sqlite3"),
        blobs=LocalBlobStore(settings.home / "blobs", settings.base_url),
        executor=LocalExecutor(settings.workers),
    )


def install(runtime: Runtime | None) -> None:
    """Make ``runtime`` the current one (``None`` clears it)."""
    global _current
    with _lock:
        _current = runtime


def current() -> Runtime:
    """Return the process's runtime, built from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            settings = Settings.from_env()
            _current = build(settings)
            logger.info("runtime ready backend=%s", settings.backend)
        return _current
