"""Parse query-string filters into typed frame and video conditions.

A filter names a tag of the project or a user_metadata key of its videos.
Several values for one name match any of them; different names must all
match. Values are converted to the tag's type, so ``image_width=768``
compares as a number and ``person_detected=True`` as a boolean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from framesieve.errors import BadRequest
from framesieve.tags import ProjectTag

# Query parameters that select or page, never filter.
CONTROL_PARAMS = frozenset({"project_name", "start_index", "end_index", "export_name"})

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass
class FrameFilter:
    """Conditions on frame columns (``tags``) and on video metadata (``metadata``)."""

    tags: dict[str, list] = field(default_factory=dict)
    metadata: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"tags": self.tags, "metadata": self.metadata}

    @classmethod
    def from_dict(cls, data: Mapping) -> "FrameFilter":
        return cls(tags=dict(data.get("tags", {})), metadata=dict(data.get("metadata", {})))


def parse_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadRequest(f"filter {name}={value!r} is invalid: {name} takes true or false")


def _number(tag: ProjectTag, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise BadRequest(f"filter {tag.name}={value!r} is invalid: {tag.name} takes a number") from None
    if not math.isfinite(number):
        raise BadRequest(f"filter {tag.name}={value!r} is invalid: {tag.name} takes a finite number")
    return number


def _convert(tag: ProjectTag, value: str) -> object:
    if tag.output_kind == "boolean":
        return parse_bool(value, tag.name)
    if tag.output_kind == "integer":
        try:
            return int(value.strip())
        except ValueError:
            return _number(tag, value)
    if tag.output_kind == "number":
        return _number(tag, value)

    # A tag with known classes takes only those, matched without case.
    if tag.outputs:
        by_lower = {str(output).lower(): output for output in tag.outputs}
        match = by_lower.get(value.strip().lower())
        if match is None:
            choices = ", ".join(str(output) for output in tag.outputs)
            raise BadRequest(f"filter {tag.name}={value!r} is invalid: {tag.name} takes one of {choices}")
        return match
    return value


def parse_filters(
    params: Mapping[str, list[str]],
    tags: Iterable[ProjectTag],
    metadata_keys: Iterable[str],
) -> FrameFilter:
    """Split ``params`` (name to all its values) into tag and metadata conditions.

    Raises ``BadRequest`` for a name that is neither a tag of the project
    nor a user_metadata key, and for a value of the wrong type.
    """
    tag_by_name = {tag.name: tag for tag in tags}
    known_metadata = set(metadata_keys)
    result = FrameFilter()

    for name, values in params.items():
        if name in CONTROL_PARAMS:
            continue

        if not values:
            raise BadRequest(f"filter {name} has no value")

        if name in tag_by_name:
            tag = tag_by_name[name]
            converted = [_convert(tag, value) for value in values]
            result.tags[name] = list(dict.fromkeys(converted))
        elif name in known_metadata:
            result.metadata[name] = list(dict.fromkeys(values))
        else:
            raise BadRequest(
                f"unknown filter {name!r}: it is neither a tag of this project nor a "
                "user_metadata key of its videos (see get_tags)"
            )
    return result
