"""Length and character rules for client-chosen names, user metadata and request fields.

Every handler validates through this module so a name is accepted or rejected
the same way on every route. Names never reach blob keys or file paths,
which are built from generated ids. They do appear in URLs, query strings,
JSON manifests and export file names, so the rules keep them short and free
of separators, whitespace and control characters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from framesieve.errors import BadRequest

MAX_BODY_BYTES = 1024 * 1024  # a larger request body gets HTTP 413
MAX_TAGS_PER_REQUEST = 100
MAX_FILE_URLS = 20
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 1024
MAX_INDEX = 10**12

# Fields of a frame record in get_metadata. User metadata is flattened into
# the same object, so a metadata key or tag name must not reuse one of these.
FRAME_FIELDS: frozenset[str] = frozenset(
    {
        "project_name",
        "frame_number",
        "group_id",
        "video_name",
        "video_url",
        "signed_url",
        "storage_path",
        "train",
        "timestamp",
        "image_width",
        "image_height",
        "aspect_ratio",
    }
)

# Query parameters of get_metadata and get_intervals that are not tag filters.
QUERY_FIELDS: frozenset[str] = frozenset({"project_name", "start_index", "end_index"})

RESERVED_TAG_NAMES: frozenset[str] = FRAME_FIELDS | QUERY_FIELDS


@dataclass(frozen=True)
class NameRule:
    """Allowed characters (``pattern``), maximum length and their wording in errors."""

    pattern: re.Pattern[str]
    max_chars: int
    allowed: str
    lowercase: bool = False

    def describe(self) -> str:
        return f"must be 1-{self.max_chars} characters of {self.allowed}"


_RESOURCE_RULE = NameRule(
    pattern=re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*"),
    max_chars=128,
    allowed="letters, digits, '_', '-', '.', not starting with '.'",
)

# Tag names are query-string keys and frame record fields, so they are
# identifiers, compared without regard to case and stored in lowercase.
_TAG_RULE = NameRule(
    pattern=re.compile(r"[A-Za-z][A-Za-z0-9_]*"),
    max_chars=64,
    allowed="letters, digits and '_', starting with a letter",
    lowercase=True,
)

_METADATA_KEY_RULE = NameRule(
    pattern=_RESOURCE_RULE.pattern,
    max_chars=MAX_METADATA_KEY_CHARS,
    allowed=_RESOURCE_RULE.allowed,
)

NAME_RULES: Mapping[str, NameRule] = {
    "project_name": _RESOURCE_RULE,
    "video_name": _RESOURCE_RULE,
    "export_name": _RESOURCE_RULE,
    "model_name": _RESOURCE_RULE,
    "version_name": _RESOURCE_RULE,
    "tag_name": _TAG_RULE,
}

_JSON_TYPE_NAMES = {
    str: "a string",
    dict: "an object",
    list: "an array",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _json_type(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _show(value: str, limit: int = 40) -> str:
    """Quote a client value for an error message, cut to ``limit`` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def validate_name(field: str, value: object, label: str | None = None) -> str:
    """Return ``value`` if it is a valid name for ``field``; tag names come back in lowercase.

    ``field`` picks the rule from NAME_RULES. ``label`` replaces the field
    name in messages, for names inside lists ("tags[2].name"). Raises
    BadRequest naming the field, the rule and the rejected value.
    """
    # "tag name" and "tag_name" name the same rule, so callers may use either in messages.
    rule = NAME_RULES.get(field.replace(" ", "_"))
    if rule is None:
        raise ValueError(f"no name rule for field {field!r}; known fields: {sorted(NAME_RULES)}")
    shown = label or field

    if value is None:
        raise BadRequest(f"{shown} is required")

    if not isinstance(value, str):
        raise BadRequest(f"{shown} must be a string, got {_json_type(value)}")

    if not value or len(value) > rule.max_chars or not rule.pattern.fullmatch(value):
        raise BadRequest(f"{shown} {rule.describe()}, got {_show(value)}")

    name = value.lower() if rule.lowercase else value
    if rule is _TAG_RULE and name in RESERVED_TAG_NAMES:
        raise BadRequest(f"{shown} {_show(value)} is reserved for a frame record field or query parameter")

    return name


def validate_user_metadata(value: object, reserved: Collection[str]) -> dict[str, str]:
    """Return per-video user metadata as a flat dict of string keys to string values.

    None means no metadata. Keys must not match ``reserved`` (tag names) or
    FRAME_FIELDS without regard to case, because the metadata is flattened
    into every frame record next to them. Raises BadRequest naming the key.
    """
    if value is None:
        return {}

    if not isinstance(value, dict):
        raise BadRequest(f"user_metadata must be a JSON object of string keys to string values, got {_json_type(value)}")

    if len(value) > MAX_METADATA_KEYS:
        raise BadRequest(f"user_metadata has {len(value)} keys, max {MAX_METADATA_KEYS}")

    taken = {name.lower() for name in reserved} | FRAME_FIELDS
    metadata: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > _METADATA_KEY_RULE.max_chars:
            raise BadRequest(f"user_metadata key {_show(str(key))} {_METADATA_KEY_RULE.describe()}")
        if not _METADATA_KEY_RULE.pattern.fullmatch(key):
            raise BadRequest(f"user_metadata key {_show(key)} {_METADATA_KEY_RULE.describe()}")

        if key.lower() in taken:
            raise BadRequest(
                f"user_metadata key {_show(key)} is reserved because frame records already have a field of that name"
            )

        if not isinstance(item, str):
            raise BadRequest(f"user_metadata value for key {_show(key)} must be a string, got {_json_type(item)}")

        if len(item) > MAX_METADATA_VALUE_CHARS:
            raise BadRequest(
                f"user_metadata value for key {_show(key)} has {len(item)} characters, max {MAX_METADATA_VALUE_CHARS}"
            )

        metadata[key] = item

    return metadata


def require_string(body: Mapping[str, object], field: str) -> str:
    """Return ``body[field]`` if it is a non-empty string; raise BadRequest otherwise."""
    value = body.get(field)
    if value is None:
        raise BadRequest(f"{field} is required")

    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string, got {_json_type(value)}")

    if not value:
        raise BadRequest(f"{field} must not be empty")

    return value


def require_list(body: Mapping[str, object], field: str, max_items: int) -> list[object]:
    """Return ``body[field]`` if it is a non-empty JSON array of at most ``max_items`` items."""
    value = body.get(field)
    if value is None:
        raise BadRequest(f"{field} is required")

    if not isinstance(value, list):
        raise BadRequest(f"{field} must be a list, got {_json_type(value)}")

    if not value:
        raise BadRequest(f"{field} must not be empty")

    if len(value) > max_items:
        raise BadRequest(f"{field} has {len(value)} items, max {max_items} per request")

    return value


def optional_bool(value: object, field: str, default: bool = False) -> bool:
    """Parse a JSON boolean or the strings "true"/"false" in any case; None gives ``default``."""
    if value is None:
        return default

    if isinstance(value, bool):
        return value

    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"

    shown = _show(value) if isinstance(value, str) else _json_type(value)
    raise BadRequest(f"{field} must be true or false, got {shown}")


def parse_index(value: object, field: str, default: int) -> int:
    """Parse a start_index/end_index query value: a non-negative integer, ``default`` when absent."""
    if value is None or value == "":
        return default

    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 13:
        number = int(value)
    else:
        shown = _show(value) if isinstance(value, str) else _json_type(value)
        raise BadRequest(f"{field} must be a non-negative integer, got {shown}")

    if not 0 <= number <= MAX_INDEX:
        raise BadRequest(f"{field} must be between 0 and {MAX_INDEX}, got {number}")

    return number
