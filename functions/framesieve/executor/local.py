"""Run the pipeline steps in this process: the embedded default's executor.

Jobs wait in a queue and run one at a time on a job thread; the segments of
a job run on a pool of ``workers`` threads (decoding, tagging and JPEG
encoding release the GIL). On start the executor picks up every job left
``queued`` or ``processing`` by a previous run, which the steps allow
because each one is idempotent.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from framesieve.executor.base import Executor
from framesieve.pipeline import export as export_steps
from framesieve.pipeline import job as job_steps
from framesieve.records.base import JobStatus, RecordStore

logger = logging.getLogger(__name__)

_STOP = object()


def run_job(payload: dict, segment_pool: ThreadPoolExecutor) -> dict:
    """Run every step of one job in the order the AWS state machine does."""
    try:
        fetched = job_steps.fetch_video(payload)
        plan = job_steps.probe_and_plan(fetched)
        items = [
            {
                "job_id": plan["job_id"],
                "video_key": plan["video_key"],
                "info": plan["info"],
                "models": plan["models"],
                "model_tags": plan["model_tags"],
                "cascade": plan["cascade"],
                "segment": segment,
            }
            for segment in plan["segments"]
        ]
        parts = _run_segments(items, segment_pool)
        merged = job_steps.merge_segments({"job_id": plan["job_id"], "parts": parts})
        return job_steps.finalize_job(merged)
    except Exception as exc:
        logger.warning("job step failed job=%s error=%s", payload.get("job_id"), exc)
        return job_steps.fail_job({"job_id": payload["job_id"], "error": exc})


def _run_segments(items: list[dict], segment_pool: ThreadPoolExecutor) -> list[dict]:
    """Process every segment; on a failure, let running segments end before raising.

    fail_job deletes the job's blobs, so a segment still writing frames
    after it would leave orphaned frames behind.
    """
    futures = [segment_pool.submit(job_steps.process_segment, item) for item in items]
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        wait(futures)
        raise


def run_export(payload: dict) -> dict:
    try:
        return export_steps.build_export(payload)
    except Exception as exc:
        logger.warning("export step failed export=%s error=%s", payload.get("export_id"), exc)
        return export_steps.fail_export({"export_id": payload["export_id"], "error": exc})


class LocalExecutor(Executor):
    def __init__(self, workers: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._segment_pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="segment")
        self._thread = threading.Thread(target=self._run, name="job-runner", daemon=True)
        self._thread.start()

    def start_job(self, payload: dict) -> None:
        self._queue.put(("job", payload))

    def start_export(self, payload: dict) -> None:
        self._queue.put(("export", payload))

    def resume(self, records: RecordStore) -> int:
        """Queue the jobs a previous run left unfinished; returns how many."""
        pending = records.list_jobs_by_status([JobStatus.QUEUED, JobStatus.PROCESSING])
        for job in pending:
            logger.info("job resumed job=%s status=%s", job.job_id, job.status.value)
            self.start_job({"job_id": job.job_id})
        return len(pending)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued job and export has run; for tests and the CLI."""
        done = threading.Event()
        self._queue.put(("barrier", done))
        return done.wait(timeout)

    def close(self) -> None:
        self._queue.put((_STOP, None))
        self._thread.join(timeout=5)
        self._segment_pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            kind, payload = self._queue.get()
            if kind is _STOP:
                return
            if kind == "barrier":
                payload.set()
            elif kind == "job":
                run_job(payload, self._segment_pool)
            elif kind == "export":
                run_export(payload)
