"""Segment processing: decode, tag and write real video frames."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from framesieve.blobs.local import LocalBlobStore
from framesieve.errors import FramesieveError, StorageError
from framesieve.segment import SegmentResult, encode_jpeg, process_segment
from framesieve.tagging import BUILTIN_TAGS, TagSpec
from framesieve.video import Segment, plan_segments, probe_video

ROW_KEYS = {"frame_number", "timestamp"} | {spec.name for spec in BUILTIN_TAGS}


class MeanLevelBatchTagger:
    """A real, tiny batch tagger: the mean grey level rounded to tens, per frame."""

    specs = (TagSpec(name="mean_level", description="mean grey level", output_kind="integer"),)

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def tag_batch(self, images: list[np.ndarray]) -> list[dict]:
        self.batch_sizes.append(len(images))
        return [{"mean_level": int(round(float(image.mean()) / 10.0)) * 10} for image in images]


class DropsLastResultBatchTagger:
    """A broken batch tagger that returns one result too few."""

    specs = (TagSpec(name="broken", description="broken", output_kind="integer"),)

    def tag_batch(self, images: list[np.ndarray]) -> list[dict]:
        return [{"broken": 0} for _ in images[:-1]]


def _worker_threads() -> list[str]:
    return [
        thread.name for thread in threading.enumerate()
        if thread.name.startswith(("frame-reader-", "frame-writer"))
    ]


def test_process_whole_video_writes_every_frame(demo_video: Path, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", base_url="http://127.0.0.1:9")

    def write_frame(frame_number: int, image: np.ndarray) -> None:
        store.put_bytes(f"frames/{frame_number:08d}.jpg", encode_jpeg(image), "image/jpeg")

    result = process_segment(demo_video, Segment(0, 0, None), write_frame)

    assert isinstance(result, SegmentResult)
    assert result.frames == 795
    assert (result.first_frame, result.last_frame) == (0, 794)
    assert [row["frame_number"] for row in result.rows] == list(range(795))
    assert all(set(row) == ROW_KEYS for row in result.rows)
    assert result.rows[10]["timestamp"] == pytest.approx(1.0)
    assert len(store.list_keys("frames")) == 795
    stored = cv2.imdecode(np.frombuffer(store.get_bytes("frames/00000794.jpg"), np.uint8), cv2.IMREAD_COLOR)
    assert stored.shape == (576, 768, 3)
    assert _worker_threads() == []


def test_segmented_rows_equal_one_pass(demo_video: Path) -> None:
    one_pass = process_segment(demo_video, Segment(0, 0, None), None).rows

    segments = plan_segments(probe_video(demo_video), segment_frames=200)
    segmented = []
    for segment in segments:
        segmented.extend(process_segment(demo_video, segment, None).rows)

    assert len(segments) == 4
    assert segmented == one_pass


def test_later_segment_first_frame_gets_real_motion(demo_video: Path) -> None:
    result = process_segment(demo_video, Segment(1, 200, 260), None)

    assert result.first_frame == 200
    assert result.frames == 60
    # Pedestrians cross the scene, so nearly every frame has moved since the
    # one before; without priming the first row would be False.
    assert result.rows[0]["motion_detected"] is True


def test_segment_past_the_end_is_empty(demo_video: Path) -> None:
    result = process_segment(demo_video, Segment(9, 5000, None), None)

    assert result.frames == 0
    assert result.rows == []
    assert (result.first_frame, result.last_frame) == (-1, -1)


def test_writer_failure_propagates(demo_video: Path) -> None:
    def failing_write(frame_number: int, image: np.ndarray) -> None:
        if frame_number == 30:
            raise StorageError("could not write blob 'frames/00000030.jpg': disk full")

    with pytest.raises(StorageError, match="disk full"):
        process_segment(demo_video, Segment(0, 0, None), failing_write)
    assert _worker_threads() == []


def test_writes_run_on_bounded_pool(demo_video: Path) -> None:
    lock = threading.Lock()
    running = 0
    max_running = 0
    written: list[int] = []

    def slow_write(frame_number: int, image: np.ndarray) -> None:
        nonlocal running, max_running
        with lock:
            running += 1
            max_running = max(max_running, running)
        encode_jpeg(image)
        with lock:
            running -= 1
            written.append(frame_number)

    process_segment(demo_video, Segment(0, 0, 120), slow_write, writer_threads=3)

    assert sorted(written) == list(range(120))
    assert 1 <= max_running <= 3


def test_extra_tagger_batches_merge_into_rows(demo_video: Path) -> None:
    tagger = MeanLevelBatchTagger()

    result = process_segment(demo_video, Segment(0, 0, 40), None, extra_taggers=[tagger])

    assert tagger.batch_sizes == [16, 16, 8]
    assert all(set(row) == ROW_KEYS | {"mean_level"} for row in result.rows)
    assert {row["mean_level"] for row in result.rows} <= {100, 110, 120, 130}


def test_extra_tagger_wrong_count_fails(demo_video: Path) -> None:
    with pytest.raises(FramesieveError, match="returned 15 results for 16 frames"):
        process_segment(demo_video, Segment(0, 0, 40), None, extra_taggers=[DropsLastResultBatchTagger()])
    assert _worker_threads() == []


def test_encode_jpeg_round_trip(demo_video: Path) -> None:
    capture = cv2.VideoCapture(str(demo_video))
    ok, image = capture.read()
    capture.release()
    assert ok

    data = encode_jpeg(image, quality=90)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    assert data[:2] == b"\xff\xd8"
    assert decoded.shape == image.shape
    assert cv2.PSNR(image, decoded) > 35.0
    assert len(encode_jpeg(image, quality=50)) < len(data)


def test_encode_jpeg_rejects_bad_quality(demo_video: Path) -> None:
    with pytest.raises(ValueError):
        encode_jpeg(np.zeros((8, 8, 3), np.uint8), quality=0)


def test_segment_turns_opencv_pool_off(demo_video: Path) -> None:
    # The pipeline's own threads fill the cores; OpenCV's pool would compete with them.
    cv2.setNumThreads(2)

    process_segment(demo_video, Segment(0, 0, 5), None)

    assert cv2.getNumThreads() == 1
