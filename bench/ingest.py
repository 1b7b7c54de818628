"""Measure ingest throughput against plain decoding, and peak memory against video length.

Usage: .venv/bin/python bench/ingest.py FILE [--segment-frames N] [--workers N] [--queue-size N]
       [--blob-parent DIR] [--jpeg-quality Q] [--stages] [--repeat N] [--no-memory]

Prints, for one video in one run:
- decode-only frames per second: one thread, an OpenCV read loop (the limit);
- ingest frames per second: probe, plan, then ``process_segment`` over the
  planned segments on ``--workers`` threads, with every built-in tag and each
  frame written as a JPEG (quality 90 unless ``--jpeg-quality``) to a
  LocalBlobStore in a temporary folder;
- their ratio, and the CPU ratio: what the ratio would be with ``--workers``
  otherwise idle CPUs, from process CPU time, which other processes' load
  disturbs less than wall time;
- this process's peak RSS, and peak RSS of the same ingest in a fresh process
  on an MJPG re-encode of the video and on a copy four times as long.

``--stages`` also times each stage of the ingest alone on one thread:
decoding, tagging, JPEG encoding and ``LocalBlobStore.put_bytes``.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from framesieve.blobs.local import LocalBlobStore
from framesieve.segment import EXTRA_TAGGER_BATCH, encode_jpeg, process_segment
from framesieve.settings import Settings
from framesieve.tagging import FrameTagger
from framesieve.video import Segment, VideoInfo, plan_segments, probe_video

LONGER_COPY_FACTOR = 4

# Frames held in memory for the per-stage timings (1.3 MB each at 768x576).
STAGE_FRAMES = 100


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
    path: Path,
    segment_frames: int,
    workers: int,
    blob_root: Path,
    queue_size: int,
    jpeg_quality: int,
    store_frames: bool = True,
) -> tuple[int, int, float, float]:
    """Run the ingest into a new LocalBlobStore at ``blob_root``; return frames, segments, frames per second and CPU milliseconds per frame.

    Timed from the probe to the last write.
    """
    store = LocalBlobStore(blob_root, base_url="http://127.0.0.1:9")

    # The same writer as the pipeline's process_segment step.
    def write_frame(frame_number: int, image: np.ndarray) -> None:
        store.put_bytes(f"frames/{frame_number:08d}.jpg", encode_jpeg(image, jpeg_quality), "image/jpeg")

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


def _cpu_ms_per_frame(run_pass: Callable[[int], object], frames: int, repeats: int = 3) -> float:
    """Lowest process CPU milliseconds per frame over ``repeats`` calls of ``run_pass(pass_index)``."""
    best = float("inf")
    for pass_index in range(repeats):
        started = time.process_time()
        run_pass(pass_index)
        best = min(best, 1000.0 * (time.process_time() - started) / frames)
    return best


def _tag_all(frames: list[np.ndarray]) -> None:
    tagger = FrameTagger()
    for image in frames:
        tagger.tag(image)


def measure_stages(path: Path, blob_root: Path, jpeg_quality: int) -> dict[str, float]:
    """Time each ingest stage alone on this thread; return CPU milliseconds per frame and the mean JPEG size.

    OpenCV runs single-threaded, as ``process_segment`` sets it.
    """
    cv2.setNumThreads(1)
    decode_ms = min(decode_only(path)[2] for _ in range(3))

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames: list[np.ndarray] = []
    while len(frames) < STAGE_FRAMES:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()

    tag_ms = _cpu_ms_per_frame(lambda _: _tag_all(frames), len(frames))
    jpeg_ms = _cpu_ms_per_frame(lambda _: [encode_jpeg(image, jpeg_quality) for image in frames], len(frames))
    encoded = [encode_jpeg(image, jpeg_quality) for image in frames]

    store = LocalBlobStore(blob_root, base_url="http://127.0.0.1:9")

    # Each pass writes new keys, as an ingest does, rather than replacing files.
    def put_all(pass_index: int) -> None:
        for number, data in enumerate(encoded):
            store.put_bytes(f"pass{pass_index}/{number:08d}.jpg", data, "image/jpeg")

    put_ms = _cpu_ms_per_frame(put_all, len(encoded))

    return {
        "decode": decode_ms,
        "tag": tag_ms,
        "jpeg": jpeg_ms,
        "put": put_ms,
        "jpeg_kb": sum(len(data) for data in encoded) / len(encoded) / 1000.0,
    }


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
        "--queue-size", str(args.queue_size), "--jpeg-quality", str(args.jpeg_quality),
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
    parser.add_argument(
        "--queue-size", type=int, default=Settings.frame_queue_size,
        help=f"decoded frames queued per segment (default {Settings.frame_queue_size}, the pipeline's default)",
    )
    parser.add_argument(
        "--jpeg-quality", type=int, default=Settings.jpeg_quality,
        help=f"JPEG quality of the stored frames, 1-100 (default {Settings.jpeg_quality}, the pipeline's default)",
    )
    parser.add_argument(
        "--blob-parent", type=Path, default=None,
        help="folder for the temporary blob store (default: the system temporary folder; /dev/shm takes the disk out)",
    )
    parser.add_argument("--stages", action="store_true", help="also time each stage alone on one thread")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="decode-only and ingest runs, alternated; the lowest CPU time of each is reported (default 1)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak RSS runs on the MJPG copies")
    parser.add_argument("--ingest-only", action="store_true", help="run only the ingest and print JSON (used internally)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if args.ingest_only:
        with tempfile.TemporaryDirectory(prefix="framesieve-bench-", dir=args.blob_parent) as folder:
            frames, segments, fps, _ = ingest(
                args.file, args.segment_frames, args.workers, Path(folder) / "blobs", args.queue_size, args.jpeg_quality
            )
        print(json.dumps({"frames": frames, "segments": segments, "fps": fps, "peak_rss_mib": peak_rss_mib()}))
        return

    info = probe_video(args.file)
    print(f"video: {args.file.name} {info.width}x{info.height} codec={info.codec} seekable={info.seekable}")
    print(f"cpus: {len(os.sched_getaffinity(0))}, OpenCV {cv2.__version__}, JPEG quality {args.jpeg_quality}")

    # Every run writes into its own folder, and all are deleted at the end.
    # On ext4 without a journal, inode allocation skips inodes deleted in
    # the last 60 seconds, or 360 while their inode table block is unwritten
    # (Linux fs/ext4/ialloc.c, recently_deleted). Deleting one run's frames
    # would slow the file creation of the next.
    with tempfile.TemporaryDirectory(prefix="framesieve-bench-", dir=args.blob_parent) as folder:
        print_timings(args, Path(folder))
    if not args.no_memory:
        print_memory(args, info)


def print_timings(args: argparse.Namespace, scratch: Path) -> None:
    """Print decode-only and ingest speeds, their ratios and, with ``--stages``, each stage alone."""
    cpus = len(os.sched_getaffinity(0))
    loads = [os.getloadavg()[0]]
    decode_runs = []
    ingest_runs = []
    for run in range(max(1, args.repeat)):
        decode_runs.append(decode_only(args.file))
        ingest_runs.append(
            ingest(
                args.file, args.segment_frames, args.workers, scratch / f"run{run}", args.queue_size, args.jpeg_quality
            )
        )
        loads.append(os.getloadavg()[0])
    decoded, decode_fps, decode_cpu_ms = min(decode_runs, key=lambda run: run[2])
    frames, segments, fps, ingest_cpu_ms = min(ingest_runs, key=lambda run: run[3])
    busy_cpus = min(args.workers, cpus)

    print(f"decode only:  {decoded} frames, {decode_fps:7.1f} frames/s (one thread), {decode_cpu_ms:.2f} CPU ms/frame")
    print(
        f"ingest:       {frames} frames, {fps:7.1f} frames/s ({segments} segments on {args.workers} workers), "
        f"{ingest_cpu_ms:.2f} CPU ms/frame"
    )
    print(f"ratio ingest / decode: {fps / decode_fps:.2f}")
    print(
        f"CPU ratio, {busy_cpus} x decode CPU ms / ingest CPU ms: {busy_cpus * decode_cpu_ms / ingest_cpu_ms:.2f} "
        f"(the ratio on {busy_cpus} otherwise idle CPUs)"
    )
    if args.repeat > 1:
        print(
            f"lowest of {args.repeat} runs each; CPU ms/frame of every run: decode "
            + ", ".join(f"{run[2]:.2f}" for run in decode_runs)
            + "; ingest "
            + ", ".join(f"{run[3]:.2f}" for run in ingest_runs)
        )

    _, _, tag_fps, tag_cpu_ms = ingest(
        args.file, args.segment_frames, args.workers, scratch / "not-stored", args.queue_size, args.jpeg_quality,
        store_frames=False,
    )
    print(
        f"ingest, frames not stored: {tag_fps:7.1f} frames/s, {tag_cpu_ms:.2f} CPU ms/frame, "
        f"ratio to decode {tag_fps / decode_fps:.2f}"
    )

    if args.stages:
        stages = measure_stages(args.file, scratch / "stages", args.jpeg_quality)
        total = stages["decode"] + stages["tag"] + stages["jpeg"] + stages["put"]
        print(
            f"stages alone, CPU ms/frame: decode {stages['decode']:.2f}, tag {stages['tag']:.2f}, "
            f"JPEG {stages['jpeg']:.2f} ({stages['jpeg_kb']:.0f} KB), put_bytes {stages['put']:.2f}; "
            f"sum {total:.2f}, ingest minus sum {ingest_cpu_ms - total:.2f}"
        )

    loads.append(os.getloadavg()[0])
    print(f"load average (1 min) during the runs: {min(loads):.2f} to {max(loads):.2f} (other processes share these CPUs)")
    print(f"peak RSS this process: {peak_rss_mib():.0f} MiB")


def print_memory(args: argparse.Namespace, info: VideoInfo) -> None:
    """Print the peak RSS of fresh-process ingests of an MJPG copy and of a copy four times as long."""
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
