"""Measure ingest throughput against plain decoding, and peak memory against video length.

Usage: .venv/bin/python bench/ingest.py FILE [--segment-frames N] [--workers N] [--queue-size N]
       [--blob-parent DIR] [--opencv-threads N]

Prints, for one video in one run:
- decode-only frames per second: one thread, an OpenCV read loop (the limit);
- ingest frames per second: probe, plan, then ``process_segment`` over the
  planned segments on ``--workers`` threads, with every built-in tag and each
  frame written as a quality-90 JPEG to a LocalBlobStore in a temporary folder;
- their ratio and this process's peak RSS;
- peak RSS of the same ingest in a fresh process on an MJPG re-encode of the
  video and on a copy four times as long, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from framesieve.blobs.local import LocalBlobStore
from framesieve.segment import EXTRA_TAGGER_BATCH, encode_jpeg, process_segment
from framesieve.video import Segment, plan_segments, probe_video

LONGER_COPY_FACTOR = 4


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB.

    Linux carries ``ru_maxrss`` across exec, so a child started from this
    process would report at least the parent's peak; VmHWM belongs to the
    current address space and does not.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def decode_only(path: Path) -> tuple[int, float, float]:
    """Return frames, frames per second and process CPU milliseconds per frame."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        frames += 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    capture.release()
    return frames, frames / elapsed, 1000.0 * cpu / frames


def ingest(
    path: Path, segment_frames: int, workers: int, blob_parent: Path | None, queue_size: int, store_frames: bool = True
) -> tuple[int, int, float, float]:
    """Run the ingest; return frames, segments, frames per second and CPU milliseconds per frame.

    Timed from the probe to the last write.
    """
    with tempfile.TemporaryDirectory(prefix="framesieve-bench-", dir=blob_parent) as folder:
        store = LocalBlobStore(Path(folder) / "blobs", base_url="http://127.0.0.1:9")

        def write_frame(frame_number: int, image: np.ndarray) -> None:
            store.put_bytes(f"frames/{frame_number:08d}.jpg", encode_jpeg(image, 90), "image/jpeg")

        started = time.perf_counter()
        cpu_started = time.process_time()
        segments = plan_segments(probe_video(path), segment_frames)
        def run_segment(segment: Segment) -> int:
            # Like the pipeline, keep a segment's rows only until they are
            # written out, so held memory does not grow with the video.
            result = process_segment(path, segment, write_frame if store_frames else None, queue_size=queue_size)
            return result.frames

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segment-worker") as pool:
            frames = sum(pool.map(run_segment, segments))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started

        stored = len(store.list_keys("frames"))
        if store_frames and stored != frames:
            raise SystemExit(f"ingest stored {stored} frames but tagged {frames}")
    return frames, len(segments), frames / elapsed, 1000.0 * cpu / frames


def write_mjpg_copy(source: Path, target: Path, repeats: int) -> int:
    """Re-encode ``source`` ``repeats`` times in a row into one MJPG AVI; return the frame count."""
    info = probe_video(source)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), info.fps or 25.0, (info.width, info.height))
    if not writer.isOpened():
        raise SystemExit(f"OpenCV could not open an MJPG writer for {target}")

    frames = 0
    for _ in range(repeats):
        capture = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG)
        while True:
            ok, image = capture.read()
            if not ok:
                break
            writer.write(image)
            frames += 1
        capture.release()
    writer.release()
    return frames


def ingest_in_subprocess(path: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, __file__, str(path), "--ingest-only",
        "--segment-frames", str(args.segment_frames), "--workers", str(args.workers),
        "--opencv-threads", str(args.opencv_threads), "--queue-size", str(args.queue_size),
    ]
    if args.blob_parent is not None:
        command += ["--blob-parent", str(args.blob_parent)]
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="video file to ingest")
    parser.add_argument("--segment-frames", type=int, default=200, help="frames per segment (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="segments processed at once (default 2)")
    parser.add_argument("--queue-size", type=int, default=64, help="decoded frames queued per segment (default 64)")
    parser.add_argument(
        "--blob-parent", type=Path, default=None,
        help="folder for the temporary blob store (default: the system temporary folder; /dev/shm takes the disk out)",
    )
    parser.add_argument(
        "--opencv-threads", type=int, default=-1,
        help="cv2.setNumThreads value; -1 keeps OpenCV's default (one thread per CPU)",
    )
    parser.add_argument("--ingest-only", action="store_true", help="run only the ingest and print JSON (used internally)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.opencv_threads >= 0:
        cv2.setNumThreads(args.opencv_threads)

    if args.ingest_only:
        frames, segments, fps, cpu_ms = ingest(
            args.file, args.segment_frames, args.workers, args.blob_parent, args.queue_size
        )
        print(json.dumps({"frames": frames, "segments": segments, "fps": fps, "peak_rss_mib": peak_rss_mib()}))
        return

    info = probe_video(args.file)
    print(f"video: {args.file.name} {info.width}x{info.height} codec={info.codec} seekable={info.seekable}")
    print(f"cpus: {len(os.sched_getaffinity(0))}, OpenCV {cv2.__version__}, threads {cv2.getNumThreads()}")

    decoded, decode_fps, decode_cpu_ms = decode_only(args.file)
    frames, segments, fps, ingest_cpu_ms = ingest(
        args.file, args.segment_frames, args.workers, args.blob_parent, args.queue_size
    )
    print(f"decode only:  {decoded} frames, {decode_fps:7.1f} frames/s (one thread), {decode_cpu_ms:.2f} CPU ms/frame")
    print(
        f"ingest:       {frames} frames, {fps:7.1f} frames/s ({segments} segments on {args.workers} workers), "
        f"{ingest_cpu_ms:.2f} CPU ms/frame"
    )
    print(f"ratio ingest / decode: {fps / decode_fps:.2f}")
    _, _, tag_fps, tag_cpu_ms = ingest(
        args.file, args.segment_frames, args.workers, args.blob_parent, args.queue_size, store_frames=False
    )
    print(
        f"ingest, frames not stored: {tag_fps:7.1f} frames/s, {tag_cpu_ms:.2f} CPU ms/frame, "
        f"ratio to decode {tag_fps / decode_fps:.2f}"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (other processes share these CPUs)")
    print(f"peak RSS this process: {peak_rss_mib():.0f} MiB")

    with tempfile.TemporaryDirectory(prefix="framesieve-bench-copies-") as folder:
        short = Path(folder) / "once.avi"
        long = Path(folder) / f"x{LONGER_COPY_FACTOR}.avi"
        short_frames = write_mjpg_copy(args.file, short, 1)
        long_frames = write_mjpg_copy(args.file, long, LONGER_COPY_FACTOR)
        short_run = ingest_in_subprocess(short, args)
        long_run = ingest_in_subprocess(long, args)

    print(
        f"peak RSS, MJPG copy:      {short_run['peak_rss_mib']:6.0f} MiB "
        f"({short_frames} frames, {short_run['segments']} segments, {short_run['fps']:.0f} frames/s)"
    )
    print(
        f"peak RSS, MJPG copy x{LONGER_COPY_FACTOR}:   {long_run['peak_rss_mib']:6.0f} MiB "
        f"({long_frames} frames, {long_run['segments']} segments, {long_run['fps']:.0f} frames/s)"
    )
    print(f"peak RSS ratio x{LONGER_COPY_FACTOR} / x1: {long_run['peak_rss_mib'] / short_run['peak_rss_mib']:.2f}")

    # Decoded images held at once: each worker's decode queue, its writes in
    # flight (two per writer thread, two writer threads) and one model batch.
    held_images = args.workers * (args.queue_size + 4 + EXTRA_TAGGER_BATCH)
    frame_mib = info.width * info.height * 3 / 2**20
    print(f"upper bound on decoded images held: {held_images} frames, {held_images * frame_mib:.0f} MiB")


if __name__ == "__main__":
    main()
