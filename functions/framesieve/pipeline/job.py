"""The steps that turn a pushed video into an indexed, queryable one.

fetch_video -> probe_and_plan -> process_segment (one per segment, in
parallel) -> merge_segments -> finalize_job, and fail_job when any step
raises. Each step reads the job record, so a retried or resumed step acts
on the job's current state. Status moves only forward, through conditional
updates.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from framesieve import keys, runtime
from framesieve.errors import FramesieveError, RecordNotFound, TransitionRejected, VideoError
from framesieve.fetch import FetchPolicy, fetch_to_file
from framesieve.model_versions import active_versions, load_taggers
from framesieve.models import MODEL_TAGS, CascadedTagger, CascadeSettings, builtin_detectors
from framesieve.tags import project_tags
from framesieve.records.base import Job, JobStatus
from framesieve.segment import encode_jpeg
from framesieve.segment import process_segment as tag_segment
from framesieve.video import Segment, VideoInfo, plan_segments, probe_video

logger = logging.getLogger(__name__)

ACTIVE = [JobStatus.QUEUED, JobStatus.PROCESSING]


def _job(job_id: str) -> Job:
    return runtime.current().records.get_job(job_id)


def _require_processing(job: Job) -> None:
    if job.status != JobStatus.PROCESSING:
        raise TransitionRejected(f"job {job.job_id} is {job.status.value}, not processing; step skipped")


def fetch_video(event: dict) -> dict:
    """Download the video from its URL into blob storage, streaming."""
    current = runtime.current()
    job = current.records.update_job(
        event["job_id"], ACTIVE, status=JobStatus.PROCESSING, updated_at=time.time(), reason="", frames_done=0
    )
    logger.info("job stage=fetch job=%s video=%s", job.job_id, job.video_name)

    video_key = keys.transit_video(job.customer_id, job.project_id, job.job_id)
    with tempfile.TemporaryDirectory(prefix="framesieve-fetch-") as workdir:
        path = Path(workdir) / "video"
        result = fetch_to_file(job.video_url, path, FetchPolicy.from_settings(current.settings))
        current.blobs.put_file(video_key, path)

    current.records.update_job(job.job_id, [JobStatus.PROCESSING], size_bytes=result.size_bytes, updated_at=time.time())
    return {"job_id": job.job_id, "video_key": video_key, "size_bytes": result.size_bytes}


def probe_and_plan(event: dict) -> dict:
    """Check that the file is a decodable video and cut it into segments."""
    current = runtime.current()
    job = _job(event["job_id"])
    _require_processing(job)
    logger.info("job stage=probe job=%s video=%s", job.job_id, job.video_name)

    with current.blobs.local_copy(event["video_key"]) as path:
        info = probe_video(path, label=f"video {job.video_name!r}")
    segments = plan_segments(info, current.settings.segment_frames)

    # The plan fixes the model versions, so every segment of this job runs
    # the same ones even if the active version changes meanwhile.
    models = active_versions(current.records, job.project_id)
    visible = {tag.name for tag in project_tags(current.records, job.project_id)}
    model_tags = sorted(spec.name for spec in MODEL_TAGS if spec.name in visible)
    project = _project_of(job)
    cascade = CascadeSettings.from_dict(project.settings.get("cascade") if project else None)

    current.records.update_job(
        job.job_id, [JobStatus.PROCESSING], duration_seconds=info.duration_seconds, updated_at=time.time()
    )
    logger.info("job planned job=%s segments=%d fps=%.3f", job.job_id, len(segments), info.fps)
    return {
        "job_id": job.job_id,
        "video_key": event["video_key"],
        "info": info.to_dict(),
        "segments": [segment.to_dict() for segment in segments],
        "models": models,
        "model_tags": model_tags,
        "cascade": cascade.to_dict(),
        "needs_gpu": bool(models or model_tags),
    }


def _project_of(job: Job):
    for project in runtime.current().records.list_projects(job.customer_id):
        if project.project_id == job.project_id:
            return project
    return None


# Decoded frames a segment may buffer, in bytes: an 8K frame is 100 MB, so
# the configured queue length alone would not bound memory.
MAX_QUEUE_BYTES = 512 * 1024**2


def decode_queue_size(info: VideoInfo, configured: int) -> int:
    frame_bytes = max(1, info.width * info.height * 3)
    return max(2, min(configured, MAX_QUEUE_BYTES // frame_bytes))


def segment_taggers(event: dict, job: Job) -> list:
    """Build the model taggers a segment runs: built-in detectors the project shows, then custom models.

    With the cascade on they run only on frames that changed, behind one
    ``CascadedTagger`` per segment because the cascade keeps state.
    """
    current = runtime.current()
    wanted = set(event.get("model_tags", []))
    detectors = [
        detector
        for detector in (builtin_detectors() if wanted else [])
        if any(spec.name in wanted for spec in detector.specs)
    ]
    taggers = [*detectors, *load_taggers(current.records, current.blobs, job.project_id, event.get("models", []))]

    cascade = CascadeSettings.from_dict(event.get("cascade"))
    if taggers and cascade.enabled:
        return [CascadedTagger(taggers, cascade)]
    return taggers


def process_segment(event: dict) -> dict:
    """Decode one segment, tag every frame, store frames and a Parquet part."""
    current = runtime.current()
    job = _job(event["job_id"])
    _require_processing(job)
    segment = Segment.from_dict(event["segment"])
    info = VideoInfo.from_dict(event["info"])

    def frame_key(frame_number: int) -> str:
        return keys.frame_image(job.customer_id, job.project_id, job.job_id, frame_number)

    write_frame = None
    if job.can_store:
        quality = current.settings.jpeg_quality

        def write_frame(frame_number, image) -> None:
            current.blobs.put_bytes(frame_key(frame_number), encode_jpeg(image, quality), "image/jpeg")

    extra_taggers = segment_taggers(event, job)
    with current.blobs.local_copy(event["video_key"]) as path:
        result = tag_segment(
            path,
            segment,
            write_frame,
            queue_size=decode_queue_size(info, current.settings.frame_queue_size),
            extra_taggers=extra_taggers,
            on_progress=lambda frames: current.records.add_job_frames(job.job_id, frames),
        )

    for row in result.rows:
        row["frame_key"] = frame_key(row["frame_number"]) if job.can_store else ""

    # The job may have failed while this segment ran (another segment
    # failed, or the execution was stopped); its files were already removed.
    if _job(job.job_id).status != JobStatus.PROCESSING:
        current.blobs.delete_prefix(keys.video_prefix(job.customer_id, job.project_id, job.job_id))
        raise TransitionRejected(f"job {job.job_id} stopped processing while segment {segment.index} ran; its frames were removed")

    part_key = keys.segment_part(job.customer_id, job.project_id, job.job_id, segment.index)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(result.rows), buffer)
    current.blobs.put_bytes(part_key, buffer.getvalue())

    logger.info("job segment done job=%s segment=%d frames=%d", job.job_id, segment.index, result.frames)
    return {"job_id": job.job_id, "segment_index": segment.index, "frames": result.frames, "part_key": part_key}


def merge_segments(event: dict) -> dict:
    """Join the segment parts into the video's frame index and JSON manifest."""
    current = runtime.current()
    job = _job(event["job_id"])
    _require_processing(job)
    parts = sorted(event["parts"], key=lambda part: part["segment_index"])

    tables = []
    expected_next = 0
    for part in parts:
        # A segment that AWS Batch ran reports only its index, because Step
        # Functions reads a Batch job's status and not its output.
        part_key = part.get("part_key") or keys.segment_part(
            job.customer_id, job.project_id, job.job_id, part["segment_index"]
        )
        if part.get("frames") == 0:
            continue
        table = pq.read_table(io.BytesIO(current.blobs.get_bytes(part_key)))
        if table.num_rows == 0:
            continue
        numbers = table.column("frame_number").to_numpy()
        if int(numbers[0]) != expected_next:
            raise VideoError(
                f"segment {part['segment_index']} starts at frame {int(numbers[0])}, expected {expected_next}; "
                "the video could not be split reliably"
            )
        expected_next = int(numbers[-1]) + 1
        tables.append(table)

    if not tables:
        raise VideoError("no frame of the video could be decoded")

    index = pa.concat_tables(tables, promote_options="default")
    index_key = keys.frame_index(job.customer_id, job.project_id, job.job_id)
    buffer = io.BytesIO()
    pq.write_table(index, buffer)
    current.blobs.put_bytes(index_key, buffer.getvalue())

    manifest_key = keys.frame_manifest(job.customer_id, job.project_id, job.job_id)
    _write_frame_manifest(current.blobs, manifest_key, job, index)

    logger.info("job stage=merge job=%s frames=%d", job.job_id, index.num_rows)
    return {
        "job_id": job.job_id,
        "frame_count": index.num_rows,
        "duration_seconds": billed_duration(index),
        "index_key": index_key,
        "manifest_key": manifest_key,
    }


# Frame rates a camera plausibly records at. Hours are billed as if the
# video ran between these rates, whatever its timestamps claim.
MIN_BILLED_FPS = 1.0
MAX_BILLED_FPS = 240.0


def billed_duration(index: pa.Table) -> float:
    """Seconds of video to charge against ``hours_left``, from decoded frames.

    Header frame rates can be zero or absurd, so the span of the decoded
    frames' timestamps counts, clamped to what 1 to 240 fps would give.
    """
    frames = index.num_rows
    timestamps = index.column("timestamp").to_numpy()
    span = float(timestamps.max() - timestamps.min()) if frames else 0.0
    if frames > 1:
        span += span / (frames - 1)
    return min(max(span, frames / MAX_BILLED_FPS), frames / MIN_BILLED_FPS)


def _write_frame_manifest(blobs, key: str, job: Job, index: pa.Table) -> None:
    with tempfile.TemporaryDirectory(prefix="framesieve-manifest-") as workdir:
        path = Path(workdir) / "frames.json"
        with open(path, "w", encoding="utf-8") as handle:
            header = {"job_id": job.job_id, "video_name": job.video_name, "video_url": job.video_url}
            handle.write(json.dumps(header)[:-1] + ', "frames": [')
            first = True
            for batch in index.to_batches(max_chunksize=4096):
                for row in batch.to_pylist():
                    handle.write("\n" if first else ",\n")
                    handle.write(json.dumps(row))
                    first = False
            handle.write(f'\n], "frame_count": {index.num_rows}}}\n')
        blobs.put_file(key, path, content_type="application/json")


def finalize_job(event: dict) -> dict:
    """Publish the video to queries and release what the job no longer needs."""
    current = runtime.current()
    job = current.records.update_job(
        event["job_id"],
        [JobStatus.PROCESSING],
        status=JobStatus.FINISHED,
        frame_count=event["frame_count"],
        frames_done=event["frame_count"],
        duration_seconds=event.get("duration_seconds", 0.0),
        index_key=event["index_key"],
        manifest_key=event["manifest_key"],
        updated_at=time.time(),
    )
    current.records.use_hours(job.customer_id, job.duration_seconds / 3600.0)
    _remove_scratch(job)
    logger.info("job finished job=%s video=%s frames=%d", job.job_id, job.video_name, job.frame_count)
    return {"job_id": job.job_id, "status": JobStatus.FINISHED.value}


def _remove_scratch(job: Job) -> None:
    blobs = runtime.current().blobs
    blobs.delete_prefix(keys.transit_video(job.customer_id, job.project_id, job.job_id).rsplit("/", 1)[0])
    blobs.delete_prefix(f"{keys.video_prefix(job.customer_id, job.project_id, job.job_id)}/parts")


def failure_reason(error: object) -> str:
    """Build a person-readable reason from an exception or a Step Functions error object."""
    if isinstance(error, FramesieveError):
        return error.description
    if isinstance(error, BaseException):
        return f"internal error while processing the video ({type(error).__name__}: {error})"
    if isinstance(error, dict):
        cause = error.get("Cause", "")
        try:
            parsed = json.loads(cause)
            return str(parsed.get("errorMessage") or parsed.get("StatusReason") or cause)
        except (TypeError, ValueError):
            return str(cause or error.get("Error") or "unknown error")
    return str(error)


def fail_job(event: dict) -> dict:
    """End the job ``failed`` with a reason and remove what it half-wrote."""
    current = runtime.current()
    reason = failure_reason(event.get("error", "unknown error"))
    try:
        job = current.records.update_job(
            event["job_id"], ACTIVE, status=JobStatus.FAILED, reason=reason, updated_at=time.time()
        )
    except (TransitionRejected, RecordNotFound) as exc:
        logger.warning("job not marked failed job=%s: %s", event.get("job_id"), exc)
        return {"job_id": event.get("job_id"), "status": "unchanged"}

    _remove_scratch(job)
    current.blobs.delete_prefix(keys.video_prefix(job.customer_id, job.project_id, job.job_id))
    logger.info("job failed job=%s video=%s reason=%s", job.job_id, job.video_name, reason)
    return {"job_id": job.job_id, "status": JobStatus.FAILED.value}
