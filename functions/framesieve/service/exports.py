"""Exports: export_metadata and get_exports_status."""

from __future__ import annotations

import logging
import time
import uuid

from framesieve import keys
from framesieve.errors import Conflict, FramesieveError, RecordExists
from framesieve.export import frame_archive_path, time_created, write_manifest
from framesieve.names import validate_name
from framesieve.query import FrameRenderer, iter_matches
from framesieve.records.base import Export, ExportStatus
from framesieve.service.context import Context, Params
from framesieve.service.frames import resolve_filter

logger = logging.getLogger(__name__)


def export_metadata(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    name = validate_name("export_name", params.get("export_name"))
    frame_filter, jobs, hidden = resolve_filter(ctx, project, params)

    export = Export(
        export_id=str(uuid.uuid4()),
        project_id=project.project_id,
        customer_id=ctx.key.customer_id,
        name=name,
        status=ExportStatus.QUEUED,
        created_at=time.time(),
        filters=frame_filter.to_dict(),
    )
    try:
        ctx.records.create_export(export)
    except RecordExists:
        raise Conflict(f"export {name!r} already exists in project {project.project_name!r}") from None

    renderer = FrameRenderer(project, ctx.blobs, ctx.settings.link_ttl_seconds, hidden)

    def samples():
        for job, row in iter_matches(ctx.index, jobs, frame_filter):
            record = renderer.render(job, row, signed=False)
            if row.get("frame_key"):
                record["file"] = frame_archive_path(job.video_name, row["frame_number"])
                record["frame_key"] = row["frame_key"]
            yield record

    json_key = keys.export_manifest(ctx.key.customer_id, project.project_id, export.export_id)
    header = {"project_name": project.project_name, "export_name": name, "filters": frame_filter.to_dict()}
    try:
        count = write_manifest(ctx.runtime.export_blobs, json_key, header, samples())
    except FramesieveError as exc:
        # Without this the export would stay queued forever in get_exports_status.
        logger.error("export manifest failed export=%s project=%s error=%s", export.export_id, project.project_name, exc)
        ctx.records.update_export(
            export.export_id, [ExportStatus.QUEUED], status=ExportStatus.FAILED, reason=f"writing the manifest failed: {exc}"
        )
        raise
    ctx.records.update_export(export.export_id, [ExportStatus.QUEUED], json_key=json_key, num_samples=count)

    logger.info("export queued export=%s project=%s samples=%d", export.export_id, project.project_name, count)
    ctx.runtime.executor.start_export({"export_id": export.export_id})
    return {
        "description": "queued for tarring",
        "metadata_json_url": ctx.runtime.export_blobs.presigned_url(json_key, ctx.settings.link_ttl_seconds),
        "num_samples": count,
    }


def get_exports_status(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    ttl = ctx.settings.link_ttl_seconds
    store = ctx.runtime.export_blobs
    exports = []

    for export in ctx.records.list_exports(project.project_id):
        entry = {
            "name": export.name,
            "status": export.status.value,
            "time_created": time_created(export.created_at),
            "num_samples": export.num_samples,
        }
        if export.json_key:
            entry["json_path"] = store.presigned_url(export.json_key, ttl)
        if export.status == ExportStatus.COMPLETE and export.tar_key:
            entry["tar_path"] = store.presigned_url(export.tar_key, ttl)
        if export.status == ExportStatus.FAILED:
            entry["reason"] = export.reason
        exports.append(entry)
    return {"description": "Successful", "exports": exports}
