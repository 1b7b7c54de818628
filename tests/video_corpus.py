"""Broken and strange video files, generated at test time.

OpenCV's VideoWriter makes the clean clips (MJPG in AVI, MPEG-4 Part 2 in
MP4). The damage is done by editing their bytes: AVI header fields, the
``movi`` chunks, the MP4 track header's display matrix. No ffmpeg CLI is
needed.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

# Byte offsets inside AVI header chunks. The avih chunk (AVIMAINHEADER) starts
# with dwMicroSecPerFrame.
AVIH_MICROSEC_PER_FRAME = 0
# The strh chunk (AVISTREAMHEADER) holds fccType, fccHandler, dwFlags, wPriority,
# wLanguage, dwInitialFrames, dwScale, dwRate, and the frame rate is dwRate / dwScale.
STRH_SCALE = 20
STRH_RATE = 24

_CONTAINER_IDS = (b"RIFF", b"LIST")


def moving_frame(width: int, height: int, index: int) -> np.ndarray:
    """A BGR frame with a gradient and a square that moves with ``index``, so frames differ."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = np.linspace(0, 200, width, dtype=np.uint8)[None, :, None]
    side = max(1, min(width, height) // 4)
    x = (index * 3) % max(1, width - side + 1)
    y = (index * 2) % max(1, height - side + 1)
    frame[y : y + side, x : x + side] = (255, 255 - (index % 256), index % 256)
    return frame


def write_clip(path: Path, frames: int, size: tuple[int, int], fps: float = 10.0, fourcc: str = "MJPG") -> Path:
    """Write ``frames`` moving frames of ``size`` (width, height) with OpenCV; returns ``path``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path.name} at {size[0]}x{size[1]}")
    try:
        for index in range(frames):
            writer.write(moving_frame(size[0], size[1], index))
    finally:
        writer.release()
    return path


def riff_chunks(data: bytes | bytearray, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield (chunk id, offset of the chunk header, data size) for every chunk, depth first.

    A chunk's data starts 8 bytes after its header; RIFF and LIST chunks
    carry a 4-byte form type before their sub-chunks.
    """
    end = len(data) if end is None else end
    position = start
    while position + 8 <= end:
        chunk_id = bytes(data[position : position + 4])
        size = struct.unpack_from("<I", data, position + 4)[0]
        yield chunk_id, position, size
        if chunk_id in _CONTAINER_IDS:
            yield from riff_chunks(data, position + 12, min(end, position + 8 + size))
        position += 8 + size + (size & 1)


def _first_chunk(data: bytearray, chunk_id: bytes) -> int:
    for found, offset, _ in riff_chunks(data):
        if found == chunk_id:
            return offset
    raise ValueError(f"no {chunk_id!r} chunk in the AVI file")


def patch_avi_rate(path: Path, microsec_per_frame: int, scale: int, rate: int) -> Path:
    """Overwrite the frame rate fields of an AVI file in place: avih's and the video strh's."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, _first_chunk(data, b"avih") + 8 + AVIH_MICROSEC_PER_FRAME, microsec_per_frame)
    strh = _first_chunk(data, b"strh") + 8
    struct.pack_into("<II", data, strh + STRH_SCALE, scale, rate)
    path.write_bytes(bytes(data))
    return path


def video_chunks(data: bytes | bytearray) -> list[tuple[int, int]]:
    """(header offset, data size) of each compressed video frame chunk (``00dc``) in file order."""
    return [(offset, size) for chunk_id, offset, size in riff_chunks(data) if chunk_id == b"00dc"]


def corrupt_avi_middle(path: Path, frames_hit: int = 3, seed: int = 7) -> Path:
    """Overwrite ``frames_hit`` consecutive frame chunks in the middle of ``movi`` with random bytes.

    Chunk headers are overwritten too, so the demuxer has to fall back on
    the ``idx1`` index to find the frames after the damage.
    """
    data = bytearray(path.read_bytes())
    chunks = video_chunks(data)
    if len(chunks) < frames_hit + 2:
        raise ValueError(f"{path.name} has {len(chunks)} frames, too few to damage {frames_hit} in the middle")

    first = len(chunks) // 2
    start = chunks[first][0]
    stop = chunks[first + frames_hit][0]
    noise = random.Random(seed)
    data[start:stop] = bytes(noise.randrange(256) for _ in range(stop - start))
    path.write_bytes(bytes(data))
    return path


def rotate_mp4(path: Path, degrees: int = 90) -> Path:
    """Set the display matrix of the first track header (tkhd, version 0) to a rotation.

    Players, and OpenCV's FFmpeg backend with CAP_PROP_ORIENTATION_AUTO,
    turn the decoded frames by it; phones record portrait video this way.
    """
    matrices = {
        90: (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000),
        180: (-0x10000, 0, 0, 0, -0x10000, 0, 0, 0, 0x40000000),
        270: (0, -0x10000, 0, 0x10000, 0, 0, 0, 0, 0x40000000),
    }
    data = bytearray(path.read_bytes())
    box = data.find(b"tkhd")
    if box < 0 or data[box + 4] != 0:
        raise ValueError(f"{path.name} has no version-0 tkhd box to rotate")

    # version/flags, creation, modification, track id, reserved, duration (4 bytes each),
    # reserved (8), layer, alternate group, volume, reserved (2 each), then the 3x3 matrix.
    matrix = box + 4 + 6 * 4 + 8 + 4 * 2
    struct.pack_into(">9i", data, matrix, *matrices[degrees])
    path.write_bytes(bytes(data))
    return path


def png_bytes(width: int, height: int) -> bytes:
    """A valid RGB PNG image of a gradient, encoded by OpenCV."""
    ok, encoded = cv2.imencode(".png", moving_frame(width, height, 0))
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return encoded.tobytes()


def jpeg_bytes(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", moving_frame(width, height, 0))
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return encoded.tobytes()


def random_bytes(size: int, seed: int = 3) -> bytes:
    """Seeded random bytes, which carry no container signature."""
    return random.Random(seed).randbytes(size)


def count_decodable_frames(path: Path, max_consecutive_failures: int = 8) -> int:
    """Count the frames OpenCV's FFmpeg backend decodes, reading on past isolated failures."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        return 0

    frames = 0
    failures = 0
    try:
        while failures < max_consecutive_failures:
            if capture.grab():
                frames += 1
                failures = 0
            else:
                failures += 1
    finally:
        capture.release()
    return frames
