"""Tag descriptions and the interface that batch taggers (models) implement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

OUTPUT_KINDS = ("string", "boolean", "integer")

TagValue = str | int | bool


@dataclass(frozen=True)
class TagSpec:
    """A tag as ``get_tags`` lists it: its name, value kind, classes and how it is computed.

    ``outputs`` lists the possible values of a string or boolean tag and is
    empty for an open integer. ``method`` is one sentence on the computation
    and its thresholds.
    """

    name: str
    description: str
    output_kind: str
    outputs: tuple = ()
    method: str = ""

    def __post_init__(self) -> None:
        if self.output_kind not in OUTPUT_KINDS:
            raise ValueError(f"output_kind of tag {self.name!r} must be one of {OUTPUT_KINDS}, got {self.output_kind!r}")

    def accepts(self, value: object) -> bool:
        """True when ``value`` has this tag's kind and, for classes, is one of ``outputs``."""
        if self.output_kind == "boolean":
            return isinstance(value, bool)
        if self.output_kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return False
            return not self.outputs or value in self.outputs
        return isinstance(value, str) and (not self.outputs or value in self.outputs)


@runtime_checkable
class BatchTagger(Protocol):
    """A tagger that receives frames in batches, such as an ONNX model.

    ``tag_batch`` returns one dict per image, in order, with a value for every
    tag in ``specs``.
    """

    specs: Sequence[TagSpec]

    def tag_batch(self, images: list[np.ndarray]) -> list[dict[str, TagValue]]:
        ...
