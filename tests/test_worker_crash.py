"""A segment worker killed mid-segment, then run again, leaves no gap or duplicate."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

from framesieve import runtime
from framesieve.auth import create_api_key
from framesieve.blobs.local import LocalBlobStore
from framesieve.executor.local import LocalExecutor
from framesieve.pipeline import job as steps
from framesieve.records.base import Job, JobStatus, Project
from framesieve.records.sqlite import SqliteRecordStore
from framesieve.settings import Settings

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"


def test_killed_segment_worker_reruns_cleanly(tmp_path, demo_video):
    settings = replace(Settings(), home=tmp_path / "home", media_root=demo_video.parent, segment_frames=400)
    settings.home.mkdir()
    records = SqliteRecordStore(settings.home / "records.sqlite3")
    blobs = LocalBlobStore(settings.home / "blobs", settings.base_url)
    executor = LocalExecutor(1)
    runtime.install(runtime.Runtime(settings, records, blobs, executor))
    try:
        _, key = create_api_key(records, "crash")
        project = Project("p1", key.customer_id, "p", time.time())
        records.create_project(project)
        now = time.time()
        records.create_job(Job("j1", "p1", key.customer_id, "vtest", demo_video.as_uri(), JobStatus.QUEUED, now, now))

        plan = steps.probe_and_plan(steps.fetch_video({"job_id": "j1"}))
        assert len(plan["segments"]) == 2
        first = {
            "job_id": "j1",
            "video_key": plan["video_key"],
            "info": plan["info"],
            "models": plan["models"],
            "segment": plan["segments"][0],
        }

        # Run segment 0 in a Batch-style worker process and kill it mid-way.
        env = dict(os.environ)
        env.update(
            FRAMESIEVE_HOME=str(settings.home),
            FRAMESIEVE_MEDIA_ROOT=str(demo_video.parent),
            FRAMESIEVE_STEP_PAYLOAD=json.dumps(first),
            PYTHONPATH=str(FUNCTIONS),
        )
        worker = subprocess.Popen([sys.executable, "-m", "handlers.batch", "process_segment"], env=env)
        frames_dir = blobs.path_for(f"customers/{key.customer_id}/projects/p1/videos/j1/frames")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None:
            written = len(list(frames_dir.glob("*.jpg"))) if frames_dir.is_dir() else 0
            if written >= 20:
                break
            time.sleep(0.01)
        assert worker.poll() is None, "the worker finished before it could be killed"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

        part_key = f"customers/{key.customer_id}/projects/p1/videos/j1/parts/00000.parquet"
        assert not blobs.exists(part_key), "a killed worker left a segment part behind"

        # The retry, as Batch or Step Functions would run it, then the rest of the job.
        env_retry = dict(env)
        subprocess.run([sys.executable, "-m", "handlers.batch", "process_segment"], env=env_retry, check=True, timeout=300)
        second = dict(first, segment=plan["segments"][1])
        parts = [{"job_id": "j1", "segment_index": 0}, steps.process_segment(second)]
        merged = steps.merge_segments({"job_id": "j1", "parts": parts})
        steps.finalize_job(merged)

        job = records.get_job("j1")
        assert job.status == JobStatus.FINISHED
        assert job.frame_count == 795
        images = sorted(path.name for path in frames_dir.glob("*.jpg"))
        assert images == [f"{number:08d}.jpg" for number in range(795)]

        index = pq.read_table(io.BytesIO(blobs.get_bytes(job.index_key)))
        assert index.column("frame_number").to_pylist() == list(range(795))
    finally:
        executor.close()
        runtime.install(None)
