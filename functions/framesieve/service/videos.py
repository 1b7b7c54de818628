"""Videos and their jobs: push_video, get_all_jobs, get_job_status."""

from __future__ import annotations

import logging
import time
import uuid
from email.utils import formatdate

from framesieve.errors import BadRequest, Conflict, Forbidden, NotFound, RecordExists, RecordNotFound, TransitionRejected
from framesieve.fetch import FetchPolicy, check_url
from framesieve.names import FRAME_FIELDS, optional_bool, parse_index, validate_name, validate_user_metadata
from framesieve.records.base import Job, JobStatus
from framesieve.service.context import Context, Params
from framesieve.tags import project_tags

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 5000
MAX_BATCH = 7500


def page_bounds(params: Params) -> tuple[int, int]:
    """``start_index`` and ``end_index`` with the spec's defaults and limits."""
    start = parse_index(params.get("start_index"), "start_index", 0)
    end = parse_index(params.get("end_index"), "end_index", start + DEFAULT_BATCH)
    if end < start:
        raise BadRequest(f"end_index ({end}) must not be smaller than start_index ({start})")
    if end - start > MAX_BATCH:
        raise BadRequest(f"batch of {end - start} is too large: end_index - start_index must be at most {MAX_BATCH}")
    return start, end


def push_video(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    video_url = check_url(params.get("video_url"), FetchPolicy.from_settings(ctx.settings), field="video_url")
    video_name = validate_name("video_name", params.get("video_name"))
    reserved = FRAME_FIELDS | {tag.name for tag in project_tags(ctx.records, project.project_id)}
    user_metadata = validate_user_metadata(params.get("user_metadata"), reserved)
    train = optional_bool(params.get("train"), "train") if params.has("train") else False

    if ctx.key.videos_left <= 0 or ctx.key.hours_left <= 0:
        raise Forbidden("this API key has no videos or hours left (see customer_info in get_projects)")

    now = time.time()
    job = Job(
        job_id=str(uuid.uuid4()),
        project_id=project.project_id,
        customer_id=ctx.key.customer_id,
        video_name=video_name,
        video_url=video_url,
        status=JobStatus.QUEUED,
        created_at=now,
        updated_at=now,
        user_metadata=user_metadata,
        train=train,
        can_store=ctx.key.can_store,
    )
    try:
        ctx.records.create_job(job)
    except RecordExists:
        raise Conflict(f"video_name {video_name!r} already exists in project {project.project_name!r}") from None

    try:
        ctx.records.take_video_quota(ctx.key.key_hash)
    except TransitionRejected:
        # Another push took the last video between the check and the job.
        ctx.records.update_job(job.job_id, [JobStatus.QUEUED], status=JobStatus.FAILED, reason="no videos left on this API key", updated_at=time.time())
        raise Forbidden("this API key has no videos or hours left (see customer_info in get_projects)") from None

    logger.info("job queued job=%s project=%s video=%s", job.job_id, project.project_name, video_name)
    ctx.runtime.executor.start_job({"job_id": job.job_id})
    return {"description": "Published video to batching", "job_id": job.job_id}


def job_summary(job: Job) -> dict:
    summary = {
        "job_id": job.job_id,
        "size_bytes": job.size_bytes,
        "status": job.status.value,
        "timestamp": formatdate(job.created_at, usegmt=True),
        "user_metadata": job.user_metadata,
        "video_name": job.video_name,
    }
    if job.status == JobStatus.FAILED:
        summary["reason"] = job.reason
    return summary


def get_all_jobs(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    start, end = page_bounds(params)
    jobs = ctx.records.list_jobs(project.project_id)
    return {
        "description": "Successful",
        "jobs": [job_summary(job) for job in jobs[start:end]],
        "total_jobs": len(jobs),
        "next_start": end if end < len(jobs) else -1,
    }


def get_job_status(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    job_id = params.string("job_id")
    try:
        job = ctx.records.get_job(job_id)
    except RecordNotFound:
        job = None
    if job is None or job.project_id != project.project_id:
        raise NotFound(f"job {job_id!r} not found in project {project.project_name!r}")

    response = {
        "description": "Successful",
        "status": job.status.value,
        "video_name": job.video_name,
        "frames_done": job.frames_done,
        "frame_count": job.frame_count,
    }
    if job.status == JobStatus.FAILED:
        response["reason"] = job.reason
    return response
