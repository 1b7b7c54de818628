"""Storage failures in the middle of a job, retried steps, and finished jobs staying finished.

The fakes below are the real embedded stores with one injected fault: the
Nth write whose key contains a marker raises ``StorageError``, as S3 or a
full disk would.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from api_stack import build_stack
from framesieve import keys
from framesieve.blobs.local import LocalBlobStore
from framesieve.errors import StorageError, TransitionRejected
from framesieve.pipeline import job as job_steps
from framesieve.records.base import Job, JobStatus
from framesieve.records.sqlite import SqliteRecordStore
from video_corpus import count_decodable_frames, write_clip

PROJECT = "faults"
CLIP_FRAMES = 35
SEGMENT_FRAMES = 10


class FaultyBlobStoreFake(LocalBlobStore):
    """A LocalBlobStore whose ``fail_on``-th put of a key containing ``marker`` raises StorageError.

    ``fail_on`` counts from 1 and is reset by :meth:`arm`; puts are counted
    across threads, because segments write frames on several.
    """

    def __init__(self, root: Path, base_url: str) -> None:
        super().__init__(root, base_url)
        self._lock = threading.Lock()
        self.arm("", 0)

    def arm(self, marker: str, fail_on: int) -> None:
        """Fail the ``fail_on``-th put whose key contains ``marker``; 0 disarms."""
        with self._lock:
            self.marker = marker
            self.fail_on = fail_on
            self.matching_puts = 0
            self.failed_keys: list[str] = []

    def _check(self, key: str) -> None:
        with self._lock:
            if not self.fail_on or self.marker not in key:
                return
            self.matching_puts += 1
            if self.matching_puts != self.fail_on:
                return
            self.failed_keys.append(key)
        raise StorageError(f"could not write blob {key!r}: injected fault (test fake)")

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._check(key)
        super().put_bytes(key, data, content_type)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        self._check(key)
        super().put_file(key, path, content_type)


class FaultyRecordStoreFake(SqliteRecordStore):
    """A SqliteRecordStore whose next ``add_job_frames`` call, once armed, raises StorageError."""

    armed = False

    def add_job_frames(self, job_id: str, frames: int) -> None:
        if self.armed:
            self.armed = False
            raise StorageError(f"could not update job {job_id}: injected fault (test fake)")
        super().add_job_frames(job_id, frames)


@pytest.fixture(scope="module")
def media_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("media")
    write_clip(root / "clip.avi", CLIP_FRAMES, (80, 60))
    return root


@pytest.fixture
def stack(tmp_path, media_root):
    with build_stack("embedded", tmp_path, media_root, segment_frames=SEGMENT_FRAMES, workers=2) as running:
        home = running.runtime.settings.home
        running.runtime.blobs = FaultyBlobStoreFake(home / "blobs", running.runtime.settings.base_url)
        running.runtime.records = FaultyRecordStoreFake(home / "records.sqlite3")
        running.key = running.new_key("faults")
        status, body = running.call("POST", "init_project", running.key, {"project_name": PROJECT})
        assert status == 200, body
        yield running


def push_and_wait(stack, media_root: Path, name: str) -> dict:
    body = {"project_name": PROJECT, "video_url": (media_root / "clip.avi").as_uri(), "video_name": name}
    status, response = stack.call("POST", "push_video", stack.key, body)
    assert status == 200, response
    stack.wait_idle()
    _drain_segment_pool(stack)

    status, job = stack.call("GET", "get_job_status", stack.key, query=f"project_name={PROJECT}&job_id={response['job_id']}")
    assert status == 200, job
    job["job_id"] = response["job_id"]
    return job


def _drain_segment_pool(stack) -> None:
    """Wait until segment steps still running after their job ended have finished too."""
    pool = stack.runtime.executor._segment_pool
    blockers = [pool.submit(time.sleep, 0) for _ in range(pool._max_workers)]
    for blocker in blockers:
        blocker.result(timeout=120)


def video_blobs(stack, job_id: str) -> list[str]:
    job = stack.runtime.records.get_job(job_id)
    return stack.runtime.blobs.list_keys(keys.video_prefix(job.customer_id, job.project_id, job.job_id))


def query_total(stack) -> int:
    status, page = stack.call("GET", "get_metadata", stack.key, query=f"project_name={PROJECT}&end_index=1")
    assert status == 200, page
    return page["total_samples"]


@pytest.mark.parametrize(
    "marker, fail_on",
    [
        ("/frames/", 3),  # a frame JPEG of the first segment
        ("/frames/", 25),  # a frame JPEG of a later segment
        ("/parts/", 2),  # a segment's Parquet part
        ("frames.parquet", 1),  # the merged frame index
        ("frames.json", 1),  # the JSON frame manifest
        ("/transit/", 1),  # the fetched video itself
    ],
)
def test_blob_fault_fails_job_cleanly(stack, media_root, marker, fail_on):
    stack.runtime.blobs.arm(marker, fail_on)

    job = push_and_wait(stack, media_root, "broken")

    assert stack.runtime.blobs.failed_keys, f"no put matched {marker!r} #{fail_on}"
    assert job["status"] == "failed"
    assert "injected fault" in job["reason"]
    assert query_total(stack) == 0
    assert video_blobs(stack, job["job_id"]) == []

    stack.runtime.blobs.arm("", 0)
    retry = push_and_wait(stack, media_root, "after_fault")
    assert retry["status"] == "finished", retry.get("reason")
    assert query_total(stack) == CLIP_FRAMES


def test_record_fault_fails_job_cleanly(stack, media_root):
    stack.runtime.records.armed = True

    job = push_and_wait(stack, media_root, "broken")

    assert job["status"] == "failed"
    assert "injected fault" in job["reason"]
    assert query_total(stack) == 0
    assert video_blobs(stack, job["job_id"]) == []


# Steps called directly, as Step Functions retries them.


def _new_job(stack, media_root: Path, name: str) -> str:
    project = stack.runtime.records.get_project(_customer_id(stack), PROJECT)
    now = time.time()
    job = Job(
        job_id=str(uuid.uuid4()),
        project_id=project.project_id,
        customer_id=project.customer_id,
        video_name=name,
        video_url=(media_root / "clip.avi").as_uri(),
        status=JobStatus.QUEUED,
        created_at=now,
        updated_at=now,
    )
    stack.runtime.records.create_job(job)
    return job.job_id


def _customer_id(stack) -> str:
    from framesieve.auth import hash_key

    return stack.runtime.records.get_api_key(hash_key(stack.key)).customer_id


def _index_rows(stack, job_id: str) -> list[dict]:
    job = stack.runtime.records.get_job(job_id)
    table = pq.read_table(io.BytesIO(stack.runtime.blobs.get_bytes(job.index_key)))
    rows = table.to_pylist()
    for row in rows:
        row.pop("frame_key", None)
    return rows


def _run_steps(stack, job_id: str, retry_segments: bool, retry_merge: bool) -> dict:
    fetched = job_steps.fetch_video({"job_id": job_id})
    plan = job_steps.probe_and_plan(fetched)
    items = [
        {"job_id": job_id, "video_key": plan["video_key"], "info": plan["info"], "segment": segment}
        for segment in plan["segments"]
    ]

    parts = [job_steps.process_segment(item) for item in items]
    if retry_segments:
        parts = [job_steps.process_segment(item) for item in reversed(items)]

    merged = job_steps.merge_segments({"job_id": job_id, "parts": parts})
    if retry_merge:
        merged = job_steps.merge_segments({"job_id": job_id, "parts": parts})
    return merged


def test_retried_steps_same_frames(stack, media_root):
    clean_id = _new_job(stack, media_root, "clean")
    job_steps.finalize_job(_run_steps(stack, clean_id, retry_segments=False, retry_merge=False))

    retried_id = _new_job(stack, media_root, "retried")
    merged = _run_steps(stack, retried_id, retry_segments=True, retry_merge=True)
    job_steps.finalize_job(merged)

    clean_rows = _index_rows(stack, clean_id)
    retried_rows = _index_rows(stack, retried_id)
    numbers = [row["frame_number"] for row in retried_rows]
    assert merged["frame_count"] == count_decodable_frames(media_root / "clip.avi")
    assert numbers == list(range(CLIP_FRAMES))
    assert retried_rows == clean_rows

    frames = [key for key in video_blobs(stack, retried_id) if "/frames/" in key]
    assert len(frames) == CLIP_FRAMES
    status, job = stack.call("GET", "get_job_status", stack.key, query=f"project_name={PROJECT}&job_id={retried_id}")
    assert job["frame_count"] == CLIP_FRAMES
    assert job["frames_done"] == CLIP_FRAMES
    assert query_total(stack) == 2 * CLIP_FRAMES


def test_segment_retry_after_fault(stack, media_root):
    """A segment that failed half-written succeeds on retry with the same rows as a clean run."""
    clean_id = _new_job(stack, media_root, "clean")
    job_steps.finalize_job(_run_steps(stack, clean_id, retry_segments=False, retry_merge=False))

    job_id = _new_job(stack, media_root, "faulted")
    fetched = job_steps.fetch_video({"job_id": job_id})
    plan = job_steps.probe_and_plan(fetched)
    items = [
        {"job_id": job_id, "video_key": plan["video_key"], "info": plan["info"], "segment": segment}
        for segment in plan["segments"]
    ]
    stack.runtime.blobs.arm("/frames/", 4)
    with pytest.raises(StorageError):
        job_steps.process_segment(items[1])
    stack.runtime.blobs.arm("", 0)

    parts = [job_steps.process_segment(item) for item in items]
    job_steps.finalize_job(job_steps.merge_segments({"job_id": job_id, "parts": parts}))

    assert _index_rows(stack, job_id) == _index_rows(stack, clean_id)


def test_finished_job_stays_finished(stack, media_root):
    job = push_and_wait(stack, media_root, "done")
    assert job["status"] == "finished"
    job_id = job["job_id"]
    blobs_before = sorted(video_blobs(stack, job_id))
    record = stack.runtime.records.get_job(job_id)

    outcome = job_steps.fail_job({"job_id": job_id, "error": StorageError("late failure from a retried step")})
    assert outcome["status"] == "unchanged"

    with pytest.raises(TransitionRejected):
        job_steps.finalize_job(
            {"job_id": job_id, "frame_count": 1, "index_key": record.index_key, "manifest_key": record.manifest_key}
        )
    with pytest.raises(TransitionRejected):
        job_steps.fetch_video({"job_id": job_id})
    with pytest.raises(TransitionRejected):
        job_steps.merge_segments({"job_id": job_id, "parts": []})

    status, after = stack.call("GET", "get_job_status", stack.key, query=f"project_name={PROJECT}&job_id={job_id}")
    assert after["status"] == "finished"
    assert after["frame_count"] == CLIP_FRAMES
    assert "reason" not in after
    assert sorted(video_blobs(stack, job_id)) == blobs_before
    assert query_total(stack) == CLIP_FRAMES


def test_export_manifest_fault_marks_failed(stack, media_root):
    job = push_and_wait(stack, media_root, "clip")
    assert job["status"] == "finished", job

    stack.runtime.blobs.arm("/exports/", 1)
    status, body = stack.call("GET", "export_metadata", stack.key, query=f"project_name={PROJECT}&export_name=broken")
    assert status == 503, body
    assert "injected fault" in body["description"]

    status, body = stack.call("GET", "get_exports_status", stack.key, query=f"project_name={PROJECT}")
    export = body["exports"][0]
    assert export["name"] == "broken"
    assert export["status"] == "failed"
    assert "manifest" in export["reason"]
