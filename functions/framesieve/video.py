"""Video probing, segment planning and threaded frame decoding with OpenCV.

Container headers lie: frame counts can be missing, too high or too low, and
seeking by frame index lands on the wrong frame in some containers. This
module trusts the header only as far as it can check it (see
:func:`probe_video`). A frame's number is its 0-based index among the frames
that decode, in decode order, so one pass and a segmented pass give every
frame the same number.

Known shortcoming: segments need frame-accurate seeking, which is trusted
only for MP4/QuickTime and AVI files whose last header frame decodes at the
timestamp the frame rate predicts. Every other video is decoded in one
segment, on one worker, however long it is.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from framesieve.errors import VideoError

logger = logging.getLogger(__name__)

# Below this size a "video stream" is a still such as MP4 cover art
# (the 2x2 PNG in an audio-only .m4a opens in OpenCV as a video).
MIN_FRAME_SIDE = 16

# Frame rates outside this range are container defaults or time-base
# artefacts (cover art reports 90000 fps), not a camera's rate.
MAX_PLAUSIBLE_FPS = 1000.0

# OpenCV's FFmpeg backend may fail a read on a damaged packet and succeed on
# the next one. This many failures in a row mean the stream has ended.
MAX_CONSECUTIVE_READ_FAILURES = 8

_QUEUE_POLL_SECONDS = 0.1


@dataclass
class VideoInfo:
    """Probe result: frame size, rate, header frame count, and whether frame seeking is trusted."""

    width: int
    height: int
    fps: float
    frame_count_header: int
    duration_seconds: float
    codec: str
    seekable: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoInfo:
        return cls(
            width=int(data["width"]),
            height=int(data["height"]),
            fps=float(data["fps"]),
            frame_count_header=int(data["frame_count_header"]),
            duration_seconds=float(data["duration_seconds"]),
            codec=str(data["codec"]),
            seekable=bool(data["seekable"]),
        )


@dataclass
class Segment:
    """A range of frame numbers; ``end_frame`` is exclusive, ``None`` reads to the end."""

    index: int
    start_frame: int
    end_frame: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        end = data.get("end_frame")
        return cls(
            index=int(data["index"]),
            start_frame=int(data["start_frame"]),
            end_frame=None if end is None else int(end),
        )


@dataclass
class DecodedFrame:
    frame_number: int
    timestamp_seconds: float
    image: np.ndarray


def _fourcc_text(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    chars = [chr((code >> (8 * i)) & 0xFF) for i in range(4)]
    return "".join(c for c in chars if c.isprintable()).strip()


def _plausible_fps(fps: float) -> bool:
    return math.isfinite(fps) and 0.0 < fps <= MAX_PLAUSIBLE_FPS


def _has_frame_index_container(path: Path) -> bool:
    """True for AVI and MP4/QuickTime files, whose indexes OpenCV seeks by exactly.

    MPEG program streams, MPEG-TS and WebM land one or two frames off after a
    seek (checked on real clips with OpenCV 5.1), so they are read in one pass.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)

    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return True
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def _open_capture(path: Path, label: str | None = None) -> cv2.VideoCapture:
    label = label or path.name
    if not path.is_file():
        raise VideoError(f"video file not found: {label}")
    if path.stat().st_size == 0:
        raise VideoError(f"the downloaded file of {label} is empty (0 bytes); check the video URL")

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise VideoError(
            f"no video stream in {label}: the file has audio only, is not a video, "
            "or its container is damaged"
        )
    return capture


def _read_first_frame(capture: cv2.VideoCapture, name: str) -> np.ndarray:
    for _ in range(MAX_CONSECUTIVE_READ_FAILURES):
        ok, image = capture.read()
        if ok and image is not None:
            return image
    raise VideoError(
        f"could not decode any frame of {name}: the video stream is truncated, "
        "damaged, or in a codec this OpenCV build cannot decode"
    )


def _last_frame_matches_header(path: Path, frame_count: int, fps: float) -> tuple[bool, float]:
    """Seek to the header's last frame; return whether it decodes on time, and its timestamp."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame_count - 1)
        ok, _ = capture.read()
        if not ok:
            return False, 0.0
        last_seconds = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
    finally:
        capture.release()

    expected = (frame_count - 1) / fps
    return abs(last_seconds - expected) <= 1.5 / fps, last_seconds


def probe_video(path: Path, label: str | None = None) -> VideoInfo:
    """Open a video, decode its first frame and decide whether frame seeking can be trusted.

    Raises ``VideoError`` with the reason when the file is missing, empty,
    has no video stream, or no frame decodes. ``label`` names the video in
    those reasons (the file name by default).
    """
    path = Path(path)
    label = label or path.name
    capture = _open_capture(path, label)
    try:
        first = _read_first_frame(capture, label)
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        frame_count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        codec = _fourcc_text(capture)
    finally:
        capture.release()

    height, width = first.shape[:2]
    if width < MIN_FRAME_SIDE or height < MIN_FRAME_SIDE:
        raise VideoError(
            f"frames of {label} are {width}x{height} pixels, below the {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} minimum: "
            "the file is an audio file with cover art, or a video too small to tag"
        )

    seekable = False
    duration = frame_count / fps if frame_count and _plausible_fps(fps) else 0.0
    if frame_count > 1 and _plausible_fps(fps) and _has_frame_index_container(path):
        seekable, last_seconds = _last_frame_matches_header(path, frame_count, fps)
        if seekable:
            duration = last_seconds + 1.0 / fps

    info = VideoInfo(
        width=int(width),
        height=int(height),
        fps=fps,
        frame_count_header=frame_count,
        duration_seconds=duration,
        codec=codec,
        seekable=seekable,
    )
    logger.info(
        "probed video %s: %dx%d fps=%.3f header_frames=%d codec=%s seekable=%s",
        path.name, info.width, info.height, info.fps, info.frame_count_header, info.codec, info.seekable,
    )
    return info


def plan_segments(info: VideoInfo, segment_frames: int) -> list[Segment]:
    """Split a seekable video into ranges of ``segment_frames``; the last range is open-ended.

    The open end keeps frames that decode beyond a header count that is too
    low. A video that is not seekable, or fits in one segment, gets one
    open-ended segment.
    """
    if segment_frames < 1:
        raise ValueError(f"segment_frames must be at least 1, got {segment_frames}")

    if not info.seekable or info.frame_count_header <= segment_frames:
        return [Segment(index=0, start_frame=0, end_frame=None)]

    segments = []
    starts = range(0, info.frame_count_header, segment_frames)
    for index, start in enumerate(starts):
        segments.append(Segment(index=index, start_frame=start, end_frame=start + segment_frames))
    segments[-1].end_frame = None
    return segments


class _EndOfStream:
    pass


@dataclass
class _ReaderFailure:
    error: BaseException


class _FrameReader(threading.Thread):
    """Decode one segment into a bounded queue until the end, an error or ``stop``."""

    def __init__(self, path: Path, segment: Segment, frames: queue.Queue, stride: int) -> None:
        super().__init__(name=f"frame-reader-{segment.index}", daemon=True)
        self.path = path
        self.segment = segment
        self.frames = frames
        self.stride = stride
        self.stop_requested = threading.Event()
        self.fps = 0.0

    def _put(self, item: object) -> bool:
        """Queue an item, waking up to check for ``stop``; False when stopped."""
        while not self.stop_requested.is_set():
            try:
                self.frames.put(item, timeout=_QUEUE_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _timestamp(self, capture: cv2.VideoCapture, previous: float | None, frame_number: int) -> float:
        # Some MP4s report presentation times out of order after B-frames;
        # a time that does not advance is replaced by one frame interval.
        seconds = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        step = 1.0 / self.fps if _plausible_fps(self.fps) else 0.0
        if previous is None:
            if math.isfinite(seconds) and seconds >= 0.0:
                return seconds
            return frame_number * step
        if math.isfinite(seconds) and seconds > previous:
            return seconds
        return previous + step

    def run(self) -> None:
        try:
            self._decode()
        except Exception as exc:  # noqa: BLE001 - forwarded to the consumer, which re-raises it
            self._put(_ReaderFailure(exc))
            return
        self._put(_EndOfStream())

    def _decode(self) -> None:
        capture = _open_capture(self.path)
        try:
            self.fps = float(capture.get(cv2.CAP_PROP_FPS))
            start = self.segment.start_frame
            end = self.segment.end_frame
            if start > 0 and not capture.set(cv2.CAP_PROP_POS_FRAMES, start):
                raise VideoError(f"could not seek {self.path.name} to frame {start}")

            frame_number = start
            previous: float | None = None
            failures = 0
            while end is None or frame_number < end:
                if self.stop_requested.is_set():
                    return

                wanted = frame_number % self.stride == 0
                # grab() decodes; retrieve() adds the colour conversion, so
                # frames skipped by the stride only pay for the decode.
                ok = capture.grab()
                image = None
                if ok and wanted:
                    ok, image = capture.retrieve()
                if not ok:
                    failures += 1
                    if failures >= MAX_CONSECUTIVE_READ_FAILURES:
                        return
                    continue
                failures = 0

                previous = self._timestamp(capture, previous, frame_number)
                if wanted and not self._put(DecodedFrame(frame_number, previous, image)):
                    return
                frame_number += 1
        finally:
            capture.release()


def read_frames(
    path: Path,
    segment: Segment,
    queue_size: int = 64,
    stride: int = 1,
) -> Iterator[DecodedFrame]:
    """Yield a segment's frames, decoded ahead on a reader thread into a bounded queue.

    With ``stride`` N only frames whose number is a multiple of N are
    yielded. Every frame is still decoded, because compressed video cannot
    skip frames between keyframes. Closing the generator early stops the
    thread. A failure in the reader is raised here as ``VideoError``.
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if queue_size < 1:
        raise ValueError(f"queue_size must be at least 1, got {queue_size}")

    frames: queue.Queue = queue.Queue(maxsize=queue_size)
    reader = _FrameReader(Path(path), segment, frames, stride)
    reader.start()
    try:
        while True:
            item = frames.get()
            if isinstance(item, _EndOfStream):
                return
            if isinstance(item, _ReaderFailure):
                if isinstance(item.error, VideoError):
                    raise item.error
                raise VideoError(f"decoding {Path(path).name} failed: {item.error}") from item.error
            yield item
    finally:
        reader.stop_requested.set()
        # Drain so a reader blocked on a full queue notices the stop at once.
        while reader.is_alive():
            try:
                frames.get(timeout=_QUEUE_POLL_SECONDS)
            except queue.Empty:
                pass
        reader.join()
