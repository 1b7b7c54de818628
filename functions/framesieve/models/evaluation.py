"""Compare cascaded inference with every-frame inference on one video."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from framesieve.models.cascade import CascadedTagger, CascadeSettings
from framesieve.tagging import BatchTagger
from framesieve.video import Segment, read_frames

BATCH_FRAMES = 16


@dataclass(frozen=True)
class CascadeFigures:
    """How often the cascade ran the model and how often it agreed with running it on every frame."""

    frames: int
    examined: int
    agreeing: int
    every_frame_seconds: float
    cascade_seconds: float

    @property
    def examined_fraction(self) -> float:
        return self.examined / self.frames

    @property
    def agreement(self) -> float:
        return self.agreeing / self.frames


def compare_cascade(video: Path, tagger: BatchTagger, tag: str, settings: CascadeSettings) -> CascadeFigures:
    """Tag every frame of ``video`` twice, directly and through the cascade, and compare ``tag``."""
    cascaded = CascadedTagger([tagger], settings)
    agreeing = 0
    every_frame_seconds = cascade_seconds = 0.0

    def compare(batch: list) -> int:
        nonlocal every_frame_seconds, cascade_seconds
        started = time.perf_counter()
        direct = tagger.tag_batch(batch)
        every_frame_seconds += time.perf_counter() - started

        started = time.perf_counter()
        carried = cascaded.tag_batch(batch)
        cascade_seconds += time.perf_counter() - started
        return sum(a[tag] == b[tag] for a, b in zip(direct, carried))

    batch = []
    for frame in read_frames(video, Segment(0, 0, None)):
        batch.append(frame.image)
        if len(batch) == BATCH_FRAMES:
            agreeing += compare(batch)
            batch = []
    if batch:
        agreeing += compare(batch)

    return CascadeFigures(cascaded.frames_seen, cascaded.frames_examined, agreeing, every_frame_seconds, cascade_seconds)
