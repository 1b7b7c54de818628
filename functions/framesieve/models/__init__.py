"""Pre-trained detectors on onnxruntime and the change cascade in front of them.

``model_taggers()`` returns the ``BatchTagger`` objects that segment
processing takes as ``extra_taggers``. Each frame gets the tags in
``MODEL_TAGS`` plus the metadata keys in ``METADATA_KEYS`` (boxes as
``[x1, y1, x2, y2, score]`` normalised to 0..1). Models come from the cache
that ``python -m framesieve.models.build`` fills.
"""

from __future__ import annotations

from collections.abc import Sequence

from framesieve.models.cache import ModelUnavailable, builtin_model_path
from framesieve.models.cascade import CascadedTagger, CascadeSettings, ChangeGate
from framesieve.models.face import FACE_SPECS, FaceDetector
from framesieve.models.person import PERSON_SPECS, PersonDetector
from framesieve.models.settings import ModelSettings
from framesieve.models.text import TEXT_SPECS, TextDetector
from framesieve.tagging import BatchTagger, TagSpec

__all__ = [
    "METADATA_KEYS",
    "MODEL_TAGS",
    "CascadeSettings",
    "CascadedTagger",
    "ChangeGate",
    "FaceDetector",
    "ModelSettings",
    "ModelUnavailable",
    "OnnxModel",
    "PersonDetector",
    "TextDetector",
    "builtin_detectors",
    "model_taggers",
]

def __getattr__(name: str):
    # onnxruntime loads only when a model runs, so listing MODEL_TAGS (the
    # API's get_tags) works without it.
    if name == "OnnxModel":
        from framesieve.models.runner import OnnxModel

        return OnnxModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MODEL_TAGS: tuple[TagSpec, ...] = PERSON_SPECS + FACE_SPECS + TEXT_SPECS

# Keys the detectors add to every frame besides MODEL_TAGS; not filterable tags.
METADATA_KEYS: tuple[str, ...] = ("person_boxes", "face_count", "face_boxes", "text_boxes")


def builtin_detectors(settings: ModelSettings | None = None) -> list[BatchTagger]:
    """Load the person, face and text detectors on sessions shared across the process.

    Raises ``ModelUnavailable`` when the cache lacks a model or contains a
    file with the wrong checksum.
    """
    from framesieve.models.runner import OnnxModel, shared_model

    settings = settings or ModelSettings.from_env()

    def load(name: str) -> OnnxModel:
        return shared_model(builtin_model_path(name, settings.cache_dir), settings)

    return [PersonDetector(load("person")), FaceDetector(load("face")), TextDetector(load("text"))]


def model_taggers(
    cascade: CascadeSettings | None = None,
    settings: ModelSettings | None = None,
    extra: Sequence[BatchTagger] = (),
) -> list[BatchTagger]:
    """Taggers for one segment: the built-in detectors plus ``extra`` (custom models), behind the cascade.

    Call it once per segment, because the cascade keeps state between
    batches. With the cascade disabled the taggers run on every frame.
    """
    cascade = cascade or CascadeSettings()
    taggers = [*builtin_detectors(settings), *extra]
    if not cascade.enabled:
        return taggers
    return [CascadedTagger(taggers, cascade)]
