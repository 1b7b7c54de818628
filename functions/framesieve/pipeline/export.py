"""The steps behind an export: build the tarball, or mark the export failed."""

from __future__ import annotations

import logging

from framesieve import keys, runtime
from framesieve.errors import RecordNotFound, TransitionRejected
from framesieve.export import build_tarball
from framesieve.pipeline.job import failure_reason
from framesieve.records.base import ExportStatus

logger = logging.getLogger(__name__)


def build_export(event: dict) -> dict:
    current = runtime.current()
    export = current.records.update_export(
        event["export_id"], [ExportStatus.QUEUED, ExportStatus.PROCESSING], status=ExportStatus.PROCESSING
    )
    logger.info("export stage=tar export=%s", export.export_id)

    tar_key = keys.export_tarball(export.customer_id, export.project_id, export.export_id)
    build_tarball(current.blobs, current.export_blobs, export.json_key, tar_key)
    current.records.update_export(
        export.export_id, [ExportStatus.PROCESSING], status=ExportStatus.COMPLETE, tar_key=tar_key
    )
    logger.info("export complete export=%s", export.export_id)
    return {"export_id": export.export_id, "status": ExportStatus.COMPLETE.value}


def fail_export(event: dict) -> dict:
    current = runtime.current()
    reason = failure_reason(event.get("error", "unknown error"))
    try:
        current.records.update_export(
            event["export_id"],
            [ExportStatus.QUEUED, ExportStatus.PROCESSING],
            status=ExportStatus.FAILED,
            reason=reason,
        )
    except (TransitionRejected, RecordNotFound) as exc:
        logger.warning("export not marked failed export=%s: %s", event.get("export_id"), exc)
        return {"export_id": event.get("export_id"), "status": "unchanged"}
    logger.info("export failed export=%s reason=%s", event["export_id"], reason)
    return {"export_id": event["export_id"], "status": ExportStatus.FAILED.value}
