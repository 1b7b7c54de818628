"""Name, user metadata and request field rules."""

from __future__ import annotations

import pytest

from framesieve.errors import BadRequest
from framesieve.names import (
    FRAME_FIELDS,
    MAX_METADATA_KEYS,
    MAX_TAGS_PER_REQUEST,
    NAME_RULES,
    optional_bool,
    parse_index,
    require_list,
    require_string,
    validate_name,
    validate_user_metadata,
)

RESOURCE_FIELDS = ["project_name", "video_name", "export_name", "model_name", "version_name"]


@pytest.mark.parametrize("field", RESOURCE_FIELDS)
@pytest.mark.parametrize(
    "value",
    ["amazing_project_1", "PRG1", "a", "v1.2.0", "cam-03_east", "_hidden", "-dash", "x" * 128, "0"],
)
def test_resource_name_accepted(field, value):
    assert validate_name(field, value) == value


@pytest.mark.parametrize("field", RESOURCE_FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        "",
        ".hidden",
        "..",
        "x" * 129,
        "has space",
        "slash/name",
        "back\\slash",
        "new\nline",
        "trailing\n",
        "tab\t",
        "caf\u00e9",
        "\uff21",
        "semi;colon",
        "percent%2F",
        "question?",
        "null\x00byte",
    ],
)
def test_resource_name_rejected(field, value):
    with pytest.raises(BadRequest) as caught:
        validate_name(field, value)

    message = caught.value.description
    assert message.startswith(f"{field} must be 1-128 characters of letters, digits, '_', '-', '.', not starting with '.'")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "is required"), (7, "must be a string, got a number"), (["a"], "must be a string, got an array")],
)
def test_name_wrong_type(value, expected):
    with pytest.raises(BadRequest) as caught:
        validate_name("project_name", value)
    assert caught.value.description == f"project_name {expected}"


def test_name_message_cuts_long_value():
    with pytest.raises(BadRequest) as caught:
        validate_name("video_name", "v" * 5000)
    assert len(caught.value.description) < 200


def test_name_label_replaces_field():
    with pytest.raises(BadRequest) as caught:
        validate_name("tag_name", "bad name", label="tags[2].name")
    assert caught.value.description.startswith("tags[2].name must be 1-64 characters")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("person_detected", "person_detected"),
        ("Glare", "glare"),
        ("WEATHER_2", "weather_2"),
        ("a" * 64, "a" * 64),
    ],
)
def test_tag_name_accepted_lowercased(value, expected):
    assert validate_name("tag_name", value) == expected


@pytest.mark.parametrize("value", ["", "2fast", "_private", "with-dash", "dotted.name", "a" * 65, "sp ace", "\u00e9t\u00e9"])
def test_tag_name_rejected(value):
    with pytest.raises(BadRequest) as caught:
        validate_name("tag_name", value)
    assert caught.value.description.startswith(
        "tag_name must be 1-64 characters of letters, digits and '_', starting with a letter"
    )


@pytest.mark.parametrize("value", ["train", "Video_Name", "start_index", "project_name", "timestamp"])
def test_tag_name_reserved(value):
    with pytest.raises(BadRequest) as caught:
        validate_name("tag_name", value)
    assert "is reserved" in caught.value.description


def test_tag_name_field_with_space():
    assert validate_name("tag name", "Glare") == "glare"

    with pytest.raises(BadRequest) as caught:
        validate_name("tag name", "bad-tag")
    assert caught.value.description.startswith("tag name must be 1-64 characters")


def test_unknown_name_field_is_programming_error():
    assert "tag_name" in NAME_RULES
    with pytest.raises(ValueError):
        validate_name("colour", "red")


# --- user metadata -----------------------------------------------------------


def test_metadata_absent_is_empty():
    assert validate_user_metadata(None, reserved=[]) == {}
    assert validate_user_metadata({}, reserved=[]) == {}


def test_metadata_flat_strings_accepted():
    value = {"per_video_metadata_1": "your_val", "site": "", "camera.id": "x" * 1024}
    assert validate_user_metadata(value, reserved=["blur"]) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a string", "user_metadata must be a JSON object of string keys to string values, got a string"),
        (["a"], "user_metadata must be a JSON object of string keys to string values, got an array"),
        ({"site": {"nested": "x"}}, "user_metadata value for key 'site' must be a string, got an object"),
        ({"site": 3}, "user_metadata value for key 'site' must be a string, got a number"),
        ({"site": True}, "user_metadata value for key 'site' must be a string, got a boolean"),
        ({"site": None}, "user_metadata value for key 'site' must be a string, got null"),
        ({"site": ["a"]}, "user_metadata value for key 'site' must be a string, got an array"),
    ],
)
def test_metadata_wrong_types(value, expected):
    with pytest.raises(BadRequest) as caught:
        validate_user_metadata(value, reserved=[])
    assert caught.value.description == expected


@pytest.mark.parametrize("key", ["", ".dot", "has space", "k" * 65, "slash/key", "new\nline"])
def test_metadata_bad_key(key):
    with pytest.raises(BadRequest) as caught:
        validate_user_metadata({key: "v"}, reserved=[])
    assert "user_metadata key" in caught.value.description
    assert "must be 1-64 characters" in caught.value.description


def test_metadata_value_too_long():
    with pytest.raises(BadRequest) as caught:
        validate_user_metadata({"note": "x" * 1025}, reserved=[])
    assert caught.value.description == "user_metadata value for key 'note' has 1025 characters, max 1024"


def test_metadata_too_many_keys():
    value = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS + 1)}
    with pytest.raises(BadRequest) as caught:
        validate_user_metadata(value, reserved=[])
    assert caught.value.description == "user_metadata has 65 keys, max 64"

    exactly = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS)}
    assert len(validate_user_metadata(exactly, reserved=[])) == MAX_METADATA_KEYS


@pytest.mark.parametrize("key", ["frame_number", "VIDEO_URL", "signed_url", "train", "blur", "Person_Detected"])
def test_metadata_key_collides_with_record_field(key):
    with pytest.raises(BadRequest) as caught:
        validate_user_metadata({key: "v"}, reserved=["blur", "person_detected"])
    assert "is reserved" in caught.value.description
    assert repr(key) in caught.value.description


def test_frame_fields_listed():
    expected = {
        "project_name",
        "frame_number",
        "group_id",
        "video_name",
        "video_url",
        "signed_url",
        "storage_path",
        "train",
        "timestamp",
    }
    assert expected <= FRAME_FIELDS


# --- request fields ----------------------------------------------------------


def test_require_string():
    assert require_string({"video_url": "http://x"}, "video_url") == "http://x"

    cases = {
        "missing": ({}, "video_url is required"),
        "null": ({"video_url": None}, "video_url is required"),
        "number": ({"video_url": 5}, "video_url must be a string, got a number"),
        "empty": ({"video_url": ""}, "video_url must not be empty"),
    }
    for name, (body, expected) in cases.items():
        with pytest.raises(BadRequest) as caught:
            require_string(body, "video_url")
        assert caught.value.description == expected, name


def test_require_list():
    assert require_list({"tags": ["a"]}, "tags", MAX_TAGS_PER_REQUEST) == ["a"]
    assert len(require_list({"tags": ["a"] * 100}, "tags", MAX_TAGS_PER_REQUEST)) == 100

    cases = {
        "missing": ({}, "tags is required"),
        "object": ({"tags": {"a": 1}}, "tags must be a list, got an object"),
        "empty": ({"tags": []}, "tags must not be empty"),
        "too long": ({"tags": ["a"] * 101}, "tags has 101 items, max 100 per request"),
    }
    for name, (body, expected) in cases.items():
        with pytest.raises(BadRequest) as caught:
            require_list(body, "tags", MAX_TAGS_PER_REQUEST)
        assert caught.value.description == expected, name


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("FALSE", False), ("True", True), (" false ", False), (None, False)],
)
def test_optional_bool_accepted(value, expected):
    assert optional_bool(value, "train") is expected


def test_optional_bool_default():
    assert optional_bool(None, "train", default=True) is True


@pytest.mark.parametrize("value", [1, 0, "yes", "1", "", [True], {"a": 1}, 1.0])
def test_optional_bool_rejected(value):
    with pytest.raises(BadRequest) as caught:
        optional_bool(value, "train")
    assert caught.value.description.startswith("train must be true or false")


@pytest.mark.parametrize(("value", "expected"), [(None, 5000), ("", 5000), ("0", 0), ("7500", 7500), (12, 12)])
def test_parse_index_accepted(value, expected):
    assert parse_index(value, "end_index", 5000) == expected


@pytest.mark.parametrize(
    "value", ["-1", "1.5", "abc", " 3", "+3", "0x10", "\u0663", "9" * 14, "9" * 5000, True, -1, 2.0, 10**13]
)
def test_parse_index_rejected(value):
    with pytest.raises(BadRequest) as caught:
        parse_index(value, "start_index", 0)
    assert caught.value.description.startswith("start_index must be")

