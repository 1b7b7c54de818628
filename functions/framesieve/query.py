"""Queries over a project's indexed videos: frame pages, intervals, exports.

Videos are visited in push order (oldest first) and frames in frame order,
so ``start_index``/``end_index`` page through one stable sequence while new
videos only ever append to its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from framesieve.blobs.base import BlobStore
from framesieve.filters import FrameFilter
from framesieve.frame_index import FrameIndex, match_mask
from framesieve.intervals import to_intervals
from framesieve.records.base import Job, JobStatus, Project

# Columns of the index that are storage details, not frame metadata.
INTERNAL_COLUMNS = frozenset({"frame_key"})


@dataclass
class FramePage:
    records: list[dict]
    total: int


def queryable_jobs(jobs: list[Job], frame_filter: FrameFilter) -> list[Job]:
    """Finished videos whose user_metadata passes the metadata conditions, oldest first."""
    selected = []
    for job in sorted(jobs, key=lambda job: (job.created_at, job.job_id)):
        if job.status != JobStatus.FINISHED or not job.index_key:
            continue
        if all(job.user_metadata.get(key) in values for key, values in frame_filter.metadata.items()):
            selected.append(job)
    return selected


class FrameRenderer:
    """Turns index rows into the frame records that get_metadata returns."""

    def __init__(self, project: Project, blobs: BlobStore, link_ttl_seconds: int, hidden_tags: set[str]) -> None:
        self._project = project
        self._blobs = blobs
        self._ttl = link_ttl_seconds
        self._hidden = hidden_tags | INTERNAL_COLUMNS

    def render(self, job: Job, row: dict, signed: bool = True) -> dict:
        record = {"project_name": self._project.project_name}
        for name, value in row.items():
            if name not in self._hidden:
                record[name] = value

        record["group_id"] = job.job_id
        record["video_name"] = job.video_name
        record["video_url"] = job.video_url
        record["train"] = job.train
        record.update(job.user_metadata)

        # Frames are only kept for customers whose key allows storage; the
        # spec leaves both fields out otherwise.
        frame_key = row.get("frame_key") or ""
        if frame_key:
            record["storage_path"] = self._blobs.storage_uri(frame_key)
            if signed:
                record["signed_url"] = self._blobs.presigned_url(frame_key, self._ttl)
        return record


def _matches(index: FrameIndex, job: Job, frame_filter: FrameFilter):
    table = index.load(job.index_key)
    mask = match_mask(table, frame_filter.tags)
    return table, np.flatnonzero(mask)


def page_frames(
    index: FrameIndex,
    jobs: list[Job],
    frame_filter: FrameFilter,
    renderer: FrameRenderer,
    start: int,
    end: int,
) -> FramePage:
    """Records ``start`` to ``end`` (exclusive) of the matches, and the exact total."""
    records: list[dict] = []
    offset = 0

    for job in jobs:
        table, rows = _matches(index, job, frame_filter)
        count = int(rows.size)
        low = max(start - offset, 0)
        high = min(end - offset, count)
        if low < high:
            selected = table.take(rows[low:high]).to_pylist()
            records.extend(renderer.render(job, row) for row in selected)
        offset += count
    return FramePage(records=records, total=offset)


def iter_matches(
    index: FrameIndex,
    jobs: list[Job],
    frame_filter: FrameFilter,
    batch_size: int = 5000,
) -> Iterator[tuple[Job, dict]]:
    """Yield every matching row with its video, in query order, a batch at a time."""
    for job in jobs:
        table, rows = _matches(index, job, frame_filter)
        for begin in range(0, rows.size, batch_size):
            for row in table.take(rows[begin : begin + batch_size]).to_pylist():
                yield job, row


def count_matches(index: FrameIndex, jobs: list[Job], frame_filter: FrameFilter) -> int:
    return sum(int(_matches(index, job, frame_filter)[1].size) for job in jobs)


def video_intervals(index: FrameIndex, jobs: list[Job], frame_filter: FrameFilter) -> list[dict]:
    """Inclusive frame intervals that match, per video, for every selected video."""
    result = []
    for job in jobs:
        table, rows = _matches(index, job, frame_filter)
        numbers = table.column("frame_number").to_numpy()[rows]
        result.append({"video_name": job.video_name, "intervals": to_intervals(np.sort(numbers))})
    return result
