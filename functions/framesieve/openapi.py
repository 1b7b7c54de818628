"""The OpenAPI 3.0 description of the Sieve v1 API as framesieve serves it.

The document is built from the tables below, one entry per operation. It
describes what the code returns, which is a superset of the Sieve v1
examples: operations read their parameters from the query string and, on
POST, from a JSON body. ``GET /v1/openapi.json`` serves it without an API
key. A test checks that every route of the Chalice app is described here and
that every described method is routed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from framesieve.names import MAX_BODY_BYTES, MAX_INDEX

OPENAPI_PATH = "/v1/openapi.json"

Schema = dict[str, Any]

_NAME = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"}
_TAG_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z][A-Za-z0-9_]*$"}
_INDEX = {"type": "integer", "minimum": 0, "maximum": MAX_INDEX}
_NEXT_START = {"type": "integer", "minimum": -1, "description": "start_index of the next page, or -1 on the last page"}


def _obj(properties: dict[str, Schema], required: list[str] | None = None, extra: bool | Schema = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = required
    return schema


def _with_description(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """Build a success body schema: a ``description`` string plus ``properties``."""
    return _obj({"description": {"type": "string"}, **properties}, ["description", *(required or [])])


@dataclass(frozen=True)
class Param:
    """One request field, read from the query string or the JSON body."""

    name: str
    schema: Schema
    required: bool = False
    description: str = ""
    # Only in a JSON body: values the query string cannot carry (lists, objects).
    body_only: bool = False


@dataclass(frozen=True)
class Operation:
    """One route: its methods, fields, success body and the errors it returns besides the common ones."""

    path: str
    methods: tuple[str, ...]
    summary: str
    params: tuple[Param, ...]
    response: Schema
    errors: tuple[int, ...] = ()
    # Tag and user_metadata filters: any further query parameter or body field.
    filters: bool = False
    tags: tuple[str, ...] = field(default=("sieve",))


_PROJECT = Param("project_name", _NAME, required=True, description="name of one of the caller's projects")
_START = Param("start_index", _INDEX, description="first item of the page (default 0)")
_END = Param("end_index", _INDEX, description="one past the last item (default start_index + 5000, at most start_index + 7500)")

# Project settings; only the change cascade exists so far. A missing key takes its default.
_CASCADE = _obj(
    {
        "enabled": {"type": "boolean", "default": True},
        "threshold": {"type": "number", "minimum": 0, "maximum": 255, "default": 4.0,
                      "description": "mean absolute grey-level difference that counts as a change"},
        "max_gap_frames": {"type": "integer", "minimum": 1, "default": 10,
                           "description": "most frames between two model runs"},
    },
    extra=False,
)
_SETTINGS = _obj({"cascade": _CASCADE}, ["cascade"])

_TAG_ENTRY = {
    "oneOf": [
        _TAG_NAME,
        _obj({"name": _TAG_NAME, "description": {"type": "string", "maxLength": 1024}}, ["name"]),
    ]
}
_TAG_LIST = {"type": "array", "items": _TAG_ENTRY, "minItems": 1, "maxItems": 100}

_TAG = _obj(
    {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "output_kind": {"type": "string"},
        "outputs": {"type": "array"},
        "status": {"type": "string"},
        "type": {"type": "string"},
    },
    ["name", "description", "output_kind", "outputs", "status", "type"],
)

_JOB_STATUS = {"type": "string", "enum": ["queued", "processing", "finished", "failed"]}

_JOB_SUMMARY = _obj(
    {
        "job_id": {"type": "string"},
        "size_bytes": {"type": "integer", "minimum": 0},
        "status": _JOB_STATUS,
        "timestamp": {"type": "string", "description": "creation time, RFC 7231 date (GMT)"},
        "user_metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "video_name": {"type": "string"},
        "reason": {"type": "string", "description": "only for failed jobs"},
    },
    ["job_id", "size_bytes", "status", "timestamp", "user_metadata", "video_name"],
)

# Built-in and custom tag values and user_metadata are flattened into the
# record, so its fields beyond these depend on the project.
_FRAME = _obj(
    {
        "project_name": {"type": "string"},
        "frame_number": {"type": "integer", "minimum": 0},
        "timestamp": {"type": "number", "description": "seconds from the start of the video"},
        "group_id": {"type": "string", "description": "job_id of the video"},
        "video_name": {"type": "string"},
        "video_url": {"type": "string"},
        "train": {"type": "boolean"},
        "storage_path": {"type": "string", "description": "only when the API key stores frames"},
        "signed_url": {"type": "string", "description": "presigned JPEG link; only when frames are stored"},
    },
    ["project_name", "frame_number", "group_id", "video_name", "video_url", "train"],
)

_EXPORT = _obj(
    {
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "processing", "complete", "failed"]},
        "time_created": {"type": "string", "description": "UTC, MM/DD/YYYY, HH:MM:SS"},
        "num_samples": {"type": "integer", "minimum": 0},
        "json_path": {"type": "string", "description": "presigned link to the JSON manifest"},
        "tar_path": {"type": "string", "description": "presigned link to the tarball; only when complete"},
        "reason": {"type": "string", "description": "only for failed exports"},
    },
    ["name", "status", "time_created", "num_samples"],
)

_CUSTOM_MODEL = _obj(
    {
        "custom_model_info": _obj(
            {
                "active_version": {"type": "string", "nullable": True},
                "versions": {
                    "type": "object",
                    "additionalProperties": _obj(
                        {
                            "files": {"type": "array", "items": {"type": "string"}},
                            "status": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                        ["files", "status"],
                    ),
                },
            },
            ["active_version", "versions"],
        ),
        "model_name": {"type": "string"},
        "outputs": {"type": "array"},
        "status": {"type": "string"},
        "tag": {"type": "string", "nullable": True},
    },
    ["custom_model_info", "model_name", "outputs", "status", "tag"],
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "/v1/init_project", ("POST",), "Create a project",
        (_PROJECT, Param("cascade", _CASCADE, body_only=True)),
        _with_description({"project_id": {"type": "string"}}, ["project_id"]),
        errors=(409,),
    ),
    Operation(
        "/v1/get_projects", ("GET", "POST"), "List the caller's projects and API key limits",
        (),
        _with_description(
            {
                "projects": {"type": "array", "items": {"type": "string"}},
                "customer_info": _obj(
                    {
                        "API-Key": {"type": "string"},
                        "can_set": {"type": "boolean"},
                        "can_store": {"type": "boolean"},
                        "name": {"type": "string"},
                        "videos_left": {"type": "integer"},
                        "hours_left": {"type": "number"},
                    },
                    ["API-Key", "can_set", "can_store", "name", "videos_left", "hours_left"],
                ),
            },
            ["projects", "customer_info"],
        ),
    ),
    Operation(
        "/v1/get_project_settings", ("GET", "POST"), "Read a project's settings",
        (_PROJECT,),
        _with_description({"project_name": {"type": "string"}, "settings": _SETTINGS}, ["project_name", "settings"]),
        errors=(404,),
    ),
    Operation(
        "/v1/set_project_settings", ("POST",), "Replace a project's settings; jobs queued afterwards use them",
        (_PROJECT, Param("cascade", _CASCADE, body_only=True)),
        _with_description({"settings": _SETTINGS}, ["settings"]),
        errors=(404,),
    ),
    Operation(
        "/v1/add_tags", ("POST",), "Add custom metadata tags to a project",
        (_PROJECT, Param("tags", _TAG_LIST, required=True, body_only=True)),
        _with_description({}),
        errors=(404,),
    ),
    Operation(
        "/v1/get_tags", ("GET", "POST"), "List a project's tags, built-in and custom",
        (_PROJECT,),
        _with_description(
            {
                "tag_status": _obj(
                    {"project_name": {"type": "string"}, "tags": {"type": "array", "items": _TAG}},
                    ["project_name", "tags"],
                )
            },
            ["tag_status"],
        ),
        errors=(404,),
    ),
    Operation(
        "/v1/delete_tags", ("POST",), "Delete custom tags or hide built-in ones",
        (_PROJECT, Param("tags", _TAG_LIST, required=True, body_only=True)),
        _with_description(
            {
                "tags": {
                    "type": "array",
                    "items": _obj({"name": {"type": "string"}, "description": {"type": "string"}}, ["name", "description"]),
                }
            },
            ["tags"],
        ),
        errors=(404,),
    ),
    Operation(
        "/v1/add_custom_model_config", ("POST",), "Add a version of a custom ONNX model; files are fetched and validated at once",
        (
            _PROJECT,
            Param("model_name", _NAME, required=True),
            Param("version_name", _NAME, required=True),
            Param("file_urls", {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20},
                  required=True, body_only=True, description="URLs of the model file and its JSON config"),
        ),
        _with_description(
            {"status": {"type": "string"}, "reason": {"type": "string", "description": "why validation failed"}},
            ["status"],
        ),
        errors=(404, 409),
    ),
    Operation(
        "/v1/set_active_custom_model", ("POST",), "Make a validated version the model's active one",
        (_PROJECT, Param("model_name", _NAME, required=True), Param("version_name", _NAME, required=True)),
        _with_description({}),
        errors=(404, 409),
    ),
    Operation(
        "/v1/get_custom_models", ("GET", "POST"), "List a project's custom models and their versions",
        (_PROJECT,),
        _with_description(
            {
                "tag_status": _obj(
                    {"project_name": {"type": "string"}, "custom_models": {"type": "array", "items": _CUSTOM_MODEL}},
                    ["project_name", "custom_models"],
                )
            },
            ["tag_status"],
        ),
        errors=(404,),
    ),
    Operation(
        "/v1/push_video", ("POST",), "Queue a video, fetched from its URL, for indexing",
        (
            _PROJECT,
            Param("video_url", {"type": "string", "minLength": 1}, required=True,
                  description="http(s) URL, or file:// under the server's media root on the embedded backend"),
            Param("video_name", _NAME, required=True, description="unique within the project"),
            Param("user_metadata", {"type": "object", "additionalProperties": {"type": "string", "maxLength": 1024},
                                    "maxProperties": 64}, body_only=True),
            Param("train", {"type": "boolean"}),
        ),
        _with_description({"job_id": {"type": "string"}}, ["job_id"]),
        errors=(403, 404, 409),
    ),
    Operation(
        "/v1/get_all_jobs", ("GET", "POST"), "Page through a project's jobs",
        (_PROJECT, _START, _END),
        _with_description(
            {
                "jobs": {"type": "array", "items": _JOB_SUMMARY},
                "total_jobs": {"type": "integer", "minimum": 0},
                "next_start": _NEXT_START,
            },
            ["jobs", "total_jobs", "next_start"],
        ),
        errors=(404,),
    ),
    Operation(
        "/v1/get_job_status", ("GET", "POST"), "Read one job's status and progress",
        (_PROJECT, Param("job_id", {"type": "string", "minLength": 1}, required=True)),
        _with_description(
            {
                "status": _JOB_STATUS,
                "video_name": {"type": "string"},
                "frames_done": {"type": "integer", "minimum": 0},
                "frame_count": {"type": "integer", "minimum": 0},
                "reason": {"type": "string", "description": "only for failed jobs"},
            },
            ["status", "video_name", "frames_done", "frame_count"],
        ),
        errors=(404,),
    ),
    Operation(
        "/v1/get_metadata", ("GET", "POST"), "Page through the frames that match tag and metadata filters",
        (_PROJECT, _START, _END),
        _with_description(
            {
                "metadata": {"type": "array", "items": _FRAME},
                "next_start": _NEXT_START,
                "total_samples": {"type": "integer", "minimum": 0},
            },
            ["metadata", "next_start", "total_samples"],
        ),
        errors=(404,),
        filters=True,
    ),
    Operation(
        "/v1/get_intervals", ("GET", "POST"), "List the frame intervals that match, per video",
        (_PROJECT,),
        {
            "type": "array",
            "items": _obj(
                {
                    "video_name": {"type": "string"},
                    "intervals": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                        "description": "inclusive [first, last] frame numbers",
                    },
                },
                ["video_name", "intervals"],
            ),
        },
        errors=(404,),
        filters=True,
    ),
    Operation(
        "/v1/export_metadata", ("GET", "POST"), "Export the matching frames as a JSON manifest and a tarball",
        (_PROJECT, Param("export_name", _NAME, required=True, description="unique within the project")),
        _with_description(
            {"metadata_json_url": {"type": "string"}, "num_samples": {"type": "integer", "minimum": 0}},
            ["metadata_json_url", "num_samples"],
        ),
        errors=(404, 409),
        filters=True,
    ),
    Operation(
        "/v1/get_exports_status", ("GET", "POST"), "List a project's exports with their links",
        (_PROJECT,),
        _with_description({"exports": {"type": "array", "items": _EXPORT}}, ["exports"]),
        errors=(404,),
    ),
)

# Every operation can return these: bad parameters, a missing or unknown key,
# a body over the size limit, the rate limit, and a storage backend outage.
COMMON_ERRORS = (400, 401, 403, 405, 413, 429, 503)

_ERROR_TEXT = {
    400: "invalid parameters or body",
    401: "missing X-API-Key header",
    403: "invalid API key, or no videos or hours left on it",
    404: "project, job or tag not found",
    405: "method not allowed on this path",
    409: "the name already exists",
    413: f"request body over {MAX_BODY_BYTES} bytes",
    429: "rate limit exceeded; retry after the Retry-After header's seconds",
    503: "a storage backend failed; the request did not take effect",
}


def _query_parameters(operation: Operation) -> list[Schema]:
    parameters = []
    for param in operation.params:
        if param.body_only:
            continue
        entry: Schema = {"name": param.name, "in": "query", "required": param.required, "schema": param.schema}
        if param.description:
            entry["description"] = param.description
        parameters.append(entry)

    if operation.filters:
        parameters.append(
            {
                "name": "filters",
                "in": "query",
                "description": "tag or user_metadata filters, name=value; repeat a name to match any of its values",
                "style": "form",
                "explode": True,
                "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        )
    return parameters


def _request_body(operation: Operation) -> Schema:
    properties = {param.name: param.schema for param in operation.params}
    required = [param.name for param in operation.params if param.required]
    extra: bool | Schema = True
    if operation.filters:
        extra = {"description": "a tag or user_metadata filter: one value or a list of values"}

    schema = _obj(properties, required, extra)
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def _responses(operation: Operation) -> Schema:
    responses: Schema = {
        "200": {"description": "success", "content": {"application/json": {"schema": operation.response}}}
    }
    for status in sorted(set(COMMON_ERRORS) | set(operation.errors)):
        error: Schema = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status == 429:
            error["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
        responses[str(status)] = error
    return responses


def _operation_object(operation: Operation, method: str) -> Schema:
    name = operation.path.rsplit("/", 1)[1]
    described: Schema = {
        "operationId": name if len(operation.methods) == 1 else f"{name}_{method.lower()}",
        "summary": operation.summary,
        "tags": list(operation.tags),
        "responses": _responses(operation),
    }
    if method == "GET":
        described["parameters"] = _query_parameters(operation)
    else:
        described["requestBody"] = _request_body(operation)
    return described


def _openapi_path() -> Schema:
    return {
        "get": {
            "operationId": "get_openapi",
            "summary": "This OpenAPI description",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": {"description": "the OpenAPI 3.0 document", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }
    }


def build_document(server_url: str | None = None) -> Schema:
    """Build the OpenAPI 3.0.3 document; ``server_url`` fills ``servers`` when given."""
    paths: Schema = {}
    for operation in OPERATIONS:
        paths[operation.path] = {method.lower(): _operation_object(operation, method) for method in operation.methods}
    paths[OPENAPI_PATH] = _openapi_path()

    document: Schema = {
        "openapi": "3.0.3",
        "info": {
            "title": "framesieve (Sieve v1 API)",
            "version": "1.0.0",
            "description": (
                "Push videos by URL, query their frames by tags, export matches. Parameters come from the "
                "query string and, on POST, from a JSON object body; a body field wins over a query parameter."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
                "Error": _obj({"description": {"type": "string", "minLength": 1}}, ["description"], extra=False),
            },
        },
        "security": [{"ApiKey": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
