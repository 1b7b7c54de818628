"""Process one segment of a video: decode, tag every frame, and hand frames to a writer.

Three stages overlap. A reader thread decodes into a bounded queue
(:func:`framesieve.video.read_frames`), the calling thread tags, and a small
pool of writer threads runs ``write_frame`` (JPEG encoding and upload).
OpenCV releases the GIL while decoding, resizing and encoding, so the stages
run in parallel on separate cores. Memory stays flat: the decode queue, the
writes in flight and one model batch bound the images held at once, and
only the rows, one small dict a frame, grow with the segment.

These threads, and segments processed side by side, already keep the cores
busy, so :func:`process_segment` turns OpenCV's own thread pool off for the
whole process (``cv2.setNumThreads(1)``). With the pool on, every resize
and filter of the tagger is split across threads that compete with the
pipeline's: on ``vtest.avi`` tagging cost 0.53 instead of 0.31 CPU ms a
frame on two cores (``bench/README.md``).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from framesieve.errors import FramesieveError
from framesieve.jpeg import encode_jpeg
from framesieve.tagging import BatchTagger, FrameTagger
from framesieve.video import DecodedFrame, Segment, read_frames

__all__ = ["SegmentResult", "encode_jpeg", "process_segment"]

logger = logging.getLogger(__name__)

FrameWriter = Callable[[int, np.ndarray], None]

# Frames given to each extra tagger per call.
EXTRA_TAGGER_BATCH = 16


@dataclass
class SegmentResult:
    """The rows of one segment; ``first_frame`` and ``last_frame`` are -1 when no frame decoded."""

    segment_index: int
    frames: int
    rows: list[dict[str, Any]] = field(repr=False)
    first_frame: int
    last_frame: int


class _BoundedWriter:
    """Run ``write_frame`` on a thread pool with at most ``limit`` writes queued or running."""

    def __init__(self, write_frame: FrameWriter, threads: int) -> None:
        self._write_frame = write_frame
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="frame-writer")
        self._pending: collections.deque[Future] = collections.deque()
        self._limit = 2 * threads

    def submit(self, frame_number: int, image: np.ndarray) -> None:
        # Waiting on the oldest write both bounds memory and surfaces a
        # failed write within a few frames.
        while len(self._pending) >= self._limit:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._write_frame, frame_number, image))

    def finish(self) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)

    def abandon(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)


class _ExtraTagging:
    """Collect frames into batches for model taggers and merge their tags into the rows."""

    def __init__(self, taggers: Sequence[BatchTagger]) -> None:
        self._taggers = list(taggers)
        self._images: list[np.ndarray] = []
        self._rows: list[dict[str, Any]] = []

    def add(self, image: np.ndarray, row: dict[str, Any]) -> None:
        if not self._taggers:
            return
        self._images.append(image)
        self._rows.append(row)
        if len(self._images) >= EXTRA_TAGGER_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._images:
            return

        for tagger in self._taggers:
            results = tagger.tag_batch(self._images)
            if len(results) != len(self._images):
                raise FramesieveError(
                    f"tagger {type(tagger).__name__} returned {len(results)} results for {len(self._images)} frames"
                )
            for row, tags in zip(self._rows, results):
                row.update(tags)

        self._images = []
        self._rows = []


def _frames_with_priming(
    video_path: Path, segment: Segment, tagger: FrameTagger, queue_size: int
) -> Iterator[DecodedFrame]:
    """Yield the segment's frames after feeding the frame before it to ``tagger``.

    Reading from one frame earlier costs a single extra decode and gives the
    segment's first frame a motion value equal to a one-pass read.
    """
    if segment.start_frame == 0:
        yield from read_frames(video_path, segment, queue_size=queue_size)
        return

    widened = Segment(segment.index, segment.start_frame - 1, segment.end_frame)
    frames = read_frames(video_path, widened, queue_size=queue_size)
    try:
        for frame in frames:
            if frame.frame_number < segment.start_frame:
                tagger.prime(frame.image)
                continue
            yield frame
    finally:
        frames.close()


def process_segment(
    video_path: Path,
    segment: Segment,
    write_frame: FrameWriter | None,
    *,
    queue_size: int = 64,
    writer_threads: int = 2,
    extra_taggers: Sequence[BatchTagger] = (),
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 100,
) -> SegmentResult:
    """Decode, tag and write every frame of ``segment``; return one row per frame.

    A row contains ``frame_number``, ``timestamp`` (seconds) and every built-in
    tag, plus the tags of ``extra_taggers``. ``write_frame`` is called with
    each frame's number and BGR image on a writer thread; ``None`` stores no
    frames. ``on_progress`` receives the number of frames tagged since its
    last call, every ``progress_every`` frames. Errors from decoding
    (``VideoError``), from ``write_frame`` and from the taggers propagate.
    """
    if writer_threads < 1:
        raise ValueError(f"writer_threads must be at least 1, got {writer_threads}")

    cv2.setNumThreads(1)
    started = time.monotonic()
    logger.info(
        "segment %d of %s started: frames %d to %s",
        segment.index, Path(video_path).name, segment.start_frame,
        "end" if segment.end_frame is None else segment.end_frame - 1,
    )

    tagger = FrameTagger()
    extra = _ExtraTagging(extra_taggers)
    writer = _BoundedWriter(write_frame, writer_threads) if write_frame is not None else None
    rows: list[dict[str, Any]] = []
    frames = _frames_with_priming(Path(video_path), segment, tagger, queue_size)
    try:
        for frame in frames:
            if writer is not None:
                writer.submit(frame.frame_number, frame.image)

            row: dict[str, Any] = {"frame_number": frame.frame_number, "timestamp": frame.timestamp_seconds}
            row.update(tagger.tag(frame.image))
            extra.add(frame.image, row)
            rows.append(row)
            if on_progress is not None and len(rows) % progress_every == 0:
                on_progress(progress_every)

        extra.flush()
        if writer is not None:
            writer.finish()
        if on_progress is not None and len(rows) % progress_every:
            on_progress(len(rows) % progress_every)
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    finally:
        frames.close()

    elapsed = time.monotonic() - started
    result = SegmentResult(
        segment_index=segment.index,
        frames=len(rows),
        rows=rows,
        first_frame=rows[0]["frame_number"] if rows else -1,
        last_frame=rows[-1]["frame_number"] if rows else -1,
    )
    logger.info(
        "segment %d of %s finished: %d frames (%d to %d) in %.2f s",
        segment.index, Path(video_path).name, result.frames, result.first_frame, result.last_frame, elapsed,
    )
    return result
