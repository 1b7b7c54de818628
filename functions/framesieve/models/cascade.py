"""Run models only on frames that changed: a cheap difference detector in front of them.

Each frame is shrunk to a small grey thumbnail and compared with the
thumbnail of the last frame the models saw. The models run when the mean
absolute difference exceeds ``threshold`` grey levels, or when
``max_gap_frames`` frames have passed since they last ran. Every other frame
gets a copy of their previous result. The difference is taken after removing each
thumbnail's mean, so camera flicker and auto-exposure steps do not count as
change.

A small object entering the frame changes the mean little, so on a busy
scene it may only be seen at the next forced run, up to ``max_gap_frames - 1``
frames late. ``bench/cascade.py`` measures the agreement with every-frame
inference on the static-camera clips.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from framesieve.errors import BadRequest
from framesieve.tagging import BatchTagger, TagSpec

logger = logging.getLogger(__name__)

THUMBNAIL_WIDTH = 64


@dataclass(frozen=True)
class CascadeSettings:
    """Per-project settings of the change cascade.

    ``threshold`` is in grey levels (0-255) of mean absolute difference;
    ``max_gap_frames`` is the most frames between two model runs (1 runs the
    models on every frame). Disabled, the models run on every frame.
    """

    enabled: bool = True
    threshold: float = 4.0
    max_gap_frames: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise BadRequest(f"cascade enabled must be true or false, got {self.enabled!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not 0 <= self.threshold <= 255:
            raise BadRequest(f"cascade threshold must be a number of grey levels from 0 to 255, got {self.threshold!r}")
        if isinstance(self.max_gap_frames, bool) or not isinstance(self.max_gap_frames, int) or self.max_gap_frames < 1:
            raise BadRequest(f"cascade max_gap_frames must be an integer of at least 1, got {self.max_gap_frames!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "CascadeSettings":
        """Settings from stored or requested JSON; missing keys take the defaults, unknown keys are rejected."""
        data = dict(data or {})
        unknown = set(data) - {"enabled", "threshold", "max_gap_frames"}
        if unknown:
            raise BadRequest(f"unknown cascade settings {sorted(unknown)}; expected enabled, threshold, max_gap_frames")
        defaults = cls()
        return cls(
            enabled=data.get("enabled", defaults.enabled),
            threshold=data.get("threshold", defaults.threshold),
            max_gap_frames=data.get("max_gap_frames", defaults.max_gap_frames),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Grey thumbnail ``THUMBNAIL_WIDTH`` wide with its mean subtracted, as float32."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape[:2]
    size = (THUMBNAIL_WIDTH, max(1, round(THUMBNAIL_WIDTH * height / width)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return small - small.mean()


class ChangeGate:
    """Decide, frame by frame, whether the models must look at a frame."""

    def __init__(self, settings: CascadeSettings) -> None:
        self.settings = settings
        self._reference: np.ndarray | None = None
        self._frames_since_run = 0

    def select(self, images: list[np.ndarray]) -> list[bool]:
        """One flag per image, in order: True where the models must run."""
        if not self.settings.enabled:
            return [True] * len(images)

        flags = []
        for image in images:
            small = thumbnail(image)
            due = (
                self._reference is None
                or small.shape != self._reference.shape
                or self._frames_since_run + 1 >= self.settings.max_gap_frames
                or float(np.abs(small - self._reference).mean()) > self.settings.threshold
            )
            if due:
                self._reference = small
                self._frames_since_run = 0
            else:
                self._frames_since_run += 1
            flags.append(due)
        return flags


class CascadedTagger:
    """A ``BatchTagger`` that runs ``taggers`` only on the frames a ``ChangeGate`` selects.

    Frames between runs get a copy of the last result. The gate keeps state
    from one call to the next, so use one instance per stream of consecutive
    frames (one segment) and never share it between threads.
    """

    def __init__(self, taggers: Sequence[BatchTagger], settings: CascadeSettings) -> None:
        self.taggers = list(taggers)
        self.specs: tuple[TagSpec, ...] = tuple(spec for tagger in self.taggers for spec in tagger.specs)
        self.gate = ChangeGate(settings)
        self.frames_seen = 0
        self.frames_examined = 0
        self._last: dict[str, Any] | None = None

    def tag_batch(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        flags = self.gate.select(images)
        chosen = [image for image, flag in zip(images, flags) if flag]

        fresh: list[dict[str, Any]] = [{} for _ in chosen]
        for tagger in self.taggers:
            for merged, tags in zip(fresh, tagger.tag_batch(chosen) if chosen else []):
                merged.update(tags)

        results: list[dict[str, Any]] = []
        fresh_results = iter(fresh)
        for flag in flags:
            if flag:
                self._last = next(fresh_results)
            # The first frame of a stream is always selected, so _last is set here.
            results.append(copy.deepcopy(self._last))

        self.frames_seen += len(images)
        self.frames_examined += len(chosen)
        return results

    @property
    def examined_fraction(self) -> float:
        return self.frames_examined / self.frames_seen if self.frames_seen else 0.0
