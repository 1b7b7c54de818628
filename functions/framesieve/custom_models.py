"""Custom ONNX models: their config, validation, and the tagger that runs them.

A version is two files: an ONNX model and a JSON or YAML config that names
the tag the model serves and describes its input::

    tag: weather                 # the tag name its values appear under
    task: classify               # or: detect
    classes: [sunny, rainy, foggy]
    score_threshold: 0.5         # detect: lowest score that counts
    input: {width: 224, height: 224, layout: NCHW, color: RGB,
            dtype: float32, scale: 255, mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225]}
    # detect only:
    outputs: {boxes: detection_boxes, scores: detection_scores, classes: detection_classes}
    target_classes: [1]          # count only these class ids (optional)

A classifier's tag takes the class name with the highest score; a
detector's tag is true when any detection of a target class reaches the
threshold. Validation loads the model, matches the config against its
inputs and outputs, and runs it on sample frames, so a model that cannot
run on frames fails before any job uses it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from framesieve.errors import FramesieveError
from framesieve.models.runner import OnnxModel
from framesieve.models.settings import ModelSettings
from framesieve.names import validate_name
from framesieve.tagging.spec import TagSpec

logger = logging.getLogger(__name__)

TASKS = ("classify", "detect")
LAYOUTS = ("NCHW", "NHWC")
DTYPES = {"float32": np.float32, "uint8": np.uint8}
MAX_INPUT_SIDE = 4096


class ModelInvalid(FramesieveError):
    """A custom model version cannot be used; the description gives the reason."""

    status = 422


@dataclass(frozen=True)
class InputSpec:
    width: int
    height: int
    layout: str = "NCHW"
    color: str = "RGB"
    dtype: str = "float32"
    scale: float = 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class ModelConfig:
    tag: str
    task: str
    input: InputSpec
    classes: tuple[str, ...] = ()
    score_threshold: float = 0.5
    outputs: dict = field(default_factory=dict)
    target_classes: tuple[int, ...] = ()
    description: str = ""

    @property
    def spec(self) -> TagSpec:
        if self.task == "classify":
            return TagSpec(self.tag, self.description or f"custom classifier {self.tag}", "string", self.classes)
        return TagSpec(self.tag, self.description or f"custom detector {self.tag}", "boolean", (True, False))

    def to_dict(self) -> dict:
        return {
            "tag": self.tag,
            "task": self.task,
            "input": self.input.__dict__ | {"mean": list(self.input.mean), "std": list(self.input.std)},
            "classes": list(self.classes),
            "score_threshold": self.score_threshold,
            "outputs": dict(self.outputs),
            "target_classes": list(self.target_classes),
            "description": self.description,
        }


def _triple(value: object, name: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3 or not all(isinstance(item, (int, float)) for item in value):
        raise ModelInvalid(f"config input.{name} must be a list of three numbers")
    return tuple(float(item) for item in value)


def parse_config(text: str) -> ModelConfig:
    """Parse and check a JSON or YAML config; ``ModelInvalid`` names the bad field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelInvalid(f"config is neither JSON nor YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ModelInvalid("config must be a mapping with tag, task and input")

    try:
        tag = validate_name("tag_name", data.get("tag"), label="config tag")
    except FramesieveError as exc:
        raise ModelInvalid(exc.description) from None

    task = data.get("task")
    if task not in TASKS:
        raise ModelInvalid(f"config task must be one of {', '.join(TASKS)}, got {task!r}")

    raw_input = data.get("input")
    if not isinstance(raw_input, dict):
        raise ModelInvalid("config input must be a mapping with width and height")
    width, height = raw_input.get("width"), raw_input.get("height")
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or not 1 <= value <= MAX_INPUT_SIDE:
            raise ModelInvalid(f"config input.{name} must be an integer from 1 to {MAX_INPUT_SIDE}")
    layout = raw_input.get("layout", "NCHW")
    if layout not in LAYOUTS:
        raise ModelInvalid(f"config input.layout must be NCHW or NHWC, got {layout!r}")
    color = raw_input.get("color", "RGB")
    if color not in ("RGB", "BGR"):
        raise ModelInvalid(f"config input.color must be RGB or BGR, got {color!r}")
    dtype = raw_input.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ModelInvalid(f"config input.dtype must be float32 or uint8, got {dtype!r}")
    scale = raw_input.get("scale", 255.0 if dtype == "float32" else 1.0)
    if not isinstance(scale, (int, float)) or scale <= 0:
        raise ModelInvalid("config input.scale must be a positive number")
    input_spec = InputSpec(
        width=width,
        height=height,
        layout=layout,
        color=color,
        dtype=dtype,
        scale=float(scale),
        mean=_triple(raw_input.get("mean", [0, 0, 0]), "mean"),
        std=_triple(raw_input.get("std", [1, 1, 1]), "std"),
    )
    if any(value == 0 for value in input_spec.std):
        raise ModelInvalid("config input.std must not contain 0")

    classes = data.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(item, str) and item for item in classes):
        raise ModelInvalid("config classes must be a list of non-empty strings")
    if task == "classify" and len(classes) < 2:
        raise ModelInvalid("a classify config needs at least two classes")

    threshold = data.get("score_threshold", 0.5)
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ModelInvalid("config score_threshold must be a number from 0 to 1")

    outputs = data.get("outputs", {})
    if task == "detect":
        if not isinstance(outputs, dict) or not isinstance(outputs.get("scores"), str):
            raise ModelInvalid("a detect config needs outputs.scores naming the model's score output")
    targets = data.get("target_classes", [])
    if not isinstance(targets, list) or not all(isinstance(item, int) for item in targets):
        raise ModelInvalid("config target_classes must be a list of integers")

    description = data.get("description", "")
    return ModelConfig(
        tag=tag,
        task=task,
        input=input_spec,
        classes=tuple(classes),
        score_threshold=float(threshold),
        outputs=dict(outputs) if isinstance(outputs, dict) else {},
        target_classes=tuple(targets),
        description=description if isinstance(description, str) else "",
    )


class CustomModelTagger:
    """Runs one custom model version on batches of frames (a ``BatchTagger``)."""

    def __init__(self, config: ModelConfig, model: OnnxModel) -> None:
        self.config = config
        self.model = model
        self.specs = (config.spec,)

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        spec = self.config.input
        batch = []
        for image in images:
            resized = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
            if spec.color == "RGB":
                resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
            if spec.dtype == "float32":
                array = resized.astype(np.float32) / spec.scale
                array = (array - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
            else:
                array = resized
            batch.append(array)

        stacked = np.stack(batch)
        if spec.layout == "NCHW":
            stacked = stacked.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(stacked, dtype=DTYPES[spec.dtype])

    def tag_batch(self, images: list[np.ndarray]) -> list[dict]:
        if not images:
            return []
        outputs = dict(zip(self.model.output_names, self.model.run(self.preprocess(images))))
        if self.config.task == "classify":
            scores = outputs[self.model.output_names[0]].reshape(len(images), -1)
            labels = np.argmax(scores, axis=1)
            return [{self.config.tag: self.config.classes[int(label)]} for label in labels]

        scores = outputs[self.config.outputs["scores"]].reshape(len(images), -1)
        keep = scores >= self.config.score_threshold
        class_output = self.config.outputs.get("classes")
        if self.config.target_classes and class_output:
            classes = outputs[class_output].reshape(len(images), -1).astype(np.int64)
            keep &= np.isin(classes, self.config.target_classes)
        return [{self.config.tag: bool(row.any())} for row in keep]


def _check_against_model(config: ModelConfig, model: OnnxModel) -> None:
    inputs = model.session.get_inputs()
    if len(inputs) != 1:
        raise ModelInvalid(f"the model has {len(inputs)} inputs; framesieve feeds exactly one image batch")
    shape = inputs[0].shape
    if len(shape) != 4:
        raise ModelInvalid(f"the model input {inputs[0].name} has shape {shape}; expected a 4-D image batch")

    spec = config.input
    expected = [None, 3, spec.height, spec.width] if spec.layout == "NCHW" else [None, spec.height, spec.width, 3]
    for axis, (actual, wanted) in enumerate(zip(shape, expected)):
        if wanted is not None and isinstance(actual, int) and actual != wanted:
            raise ModelInvalid(
                f"config input ({spec.layout} {spec.width}x{spec.height}) does not match the model input shape {shape} at axis {axis}"
            )

    wanted_type = "tensor(float)" if spec.dtype == "float32" else "tensor(uint8)"
    if inputs[0].type != wanted_type:
        raise ModelInvalid(f"config input.dtype {spec.dtype} does not match the model input type {inputs[0].type}")

    output_names = [output.name for output in model.session.get_outputs()]
    if config.task == "classify":
        last = model.session.get_outputs()[0].shape[-1]
        if isinstance(last, int) and last != len(config.classes):
            raise ModelInvalid(f"the model scores {last} classes but the config names {len(config.classes)}")
    else:
        for role, name in config.outputs.items():
            if name not in output_names:
                raise ModelInvalid(f"config outputs.{role} names {name!r}, which is not an output of the model ({', '.join(output_names)})")


def _sample_frames() -> list[np.ndarray]:
    """Frames of different content to run a new model on: black, noise, a gradient."""
    rng = np.random.default_rng(7)
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    return [
        np.zeros((240, 320, 3), np.uint8),
        rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
        cv2.merge([gradient, gradient[::-1], gradient]),
    ]


def load_version(model_path: Path, config_text: str, settings: ModelSettings) -> CustomModelTagger:
    """Load a version and prove it runs; raises ``ModelInvalid`` with the reason."""
    config = parse_config(config_text)
    try:
        model = OnnxModel(model_path, settings)
    except Exception as exc:  # onnxruntime raises its own untyped errors on bad files
        raise ModelInvalid(f"the model file does not load in onnxruntime: {str(exc).splitlines()[0][:300]}") from None

    _check_against_model(config, model)
    tagger = CustomModelTagger(config, model)
    frames = _sample_frames()
    try:
        single = tagger.tag_batch(frames[:1])
        batch = tagger.tag_batch(frames)
    except ModelInvalid:
        raise
    except Exception as exc:  # inference errors come from inside onnxruntime
        raise ModelInvalid(f"the model fails at inference: {str(exc).splitlines()[0][:300]}") from None

    spec = config.spec
    for values in single + batch:
        if not spec.accepts(values[config.tag]):
            raise ModelInvalid(f"the model produced {values[config.tag]!r}, not one of {list(spec.outputs)}")
    if len(batch) != len(frames):
        raise ModelInvalid(f"the model returned {len(batch)} results for {len(frames)} frames")
    return tagger


def split_files(paths: list[Path]) -> tuple[Path, Path]:
    """Pick the ONNX model and the config among a version's downloaded files."""
    models, configs = [], []
    for path in paths:
        head = path.read_bytes()[:64]
        if path.suffix.lower() == ".onnx":
            models.append(path)
        elif path.suffix.lower() in (".json", ".yaml", ".yml"):
            configs.append(path)
        elif head.lstrip()[:1] in (b"{", b"#") or b":" in head[:32]:
            configs.append(path)
        else:
            models.append(path)
    if len(models) != 1 or len(configs) != 1:
        raise ModelInvalid(
            f"a version needs exactly one .onnx model and one .json/.yaml config; got {len(models)} model(s) and {len(configs)} config(s)"
        )
    return models[0], configs[0]
