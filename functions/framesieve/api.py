"""The Sieve v1 HTTP API as a Chalice app: thin routes over framesieve.service.

Every route authenticates with ``X-API-Key``, reads parameters from the query
string and, for POST, the JSON body, calls one service function and returns
its dict as JSON. Domain errors become ``{"description": ...}`` with their
status. Anything unexpected is logged and returns a plain 500 without a
stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from chalice import Chalice, Response

from framesieve import runtime
from framesieve.auth import authenticate
from framesieve.errors import BadRequest, FramesieveError, PayloadTooLarge, TooManyRequests
from framesieve.names import MAX_BODY_BYTES
from framesieve.ratelimit import RateLimiter
from framesieve.openapi import OPENAPI_PATH, build_document
from framesieve.service import custom_models, exports, frames, projects, videos
from framesieve.service.context import Context, Params

logger = logging.getLogger(__name__)

# Chalice configures a logger named after the app, so the name must not be a
# package of ours: "framesieve" would silence every framesieve.* log line.
app = Chalice(app_name="framesieve-api")
app.api.binary_types = ["application/octet-stream", "image/jpeg", "application/gzip"]

Operation = Callable[[Context, Params], object]

ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]

# Bodies are parsed as JSON whatever the client labels them, so curl's
# default form type and a missing type work as the spec's examples expect.
BODY_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data",
]


def _error(status: int, description: str, headers: dict | None = None) -> Response:
    return Response(body={"description": description}, status_code=status, headers=headers or {})


def _parse_body(request) -> dict:
    raw = request.raw_body
    if not raw:
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        # json.loads recurses once per nesting level, and 1 MiB of "[" is far past the interpreter's limit.
        raise BadRequest("request body is nested too deeply to parse as JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _query(request) -> dict[str, list[str]]:
    params = request.query_params
    if not params:
        return {}
    return {name: params.getlist(name) for name in params}


_limiters: dict[int, RateLimiter] = {}


def _limiter(current: runtime.Runtime) -> RateLimiter:
    """Return the limiter of this runtime, so a process that swaps runtimes gets fresh limits."""
    limiter = _limiters.get(id(current.settings))
    if limiter is None:
        settings = current.settings
        limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        _limiters[id(current.settings)] = limiter
    return limiter


def handle(operation: Operation, methods: list[str]) -> Response:
    """Run one operation for the current request and shape its response."""
    request = app.current_request
    try:
        if request.method not in methods:
            return _error(405, f"method {request.method} is not allowed here; use {' or '.join(methods)}")

        current = runtime.current()
        raw_key = request.headers.get("x-api-key")
        key = authenticate(current.records, raw_key)
        _limiter(current).check(key.key_hash)

        body = _parse_body(request) if request.method != "GET" else {}
        params = Params(body=body, query=_query(request))
        result = operation(Context(runtime=current, key=key, raw_key=raw_key), params)
        return Response(body=result, status_code=200)
    except TooManyRequests as exc:
        return _error(exc.status, exc.description, {"Retry-After": str(exc.retry_after)})
    except FramesieveError as exc:
        if exc.status >= 500:
            logger.error("request failed path=%s error=%s", request.path, exc.description)
        return _error(exc.status, exc.description)
    except Exception:
        logger.exception("unexpected error path=%s", request.path)
        return _error(500, "internal error; the request was not completed")


def _route(path: str, operation: Operation, methods: list[str]) -> None:
    def view():
        return handle(operation, methods)

    view.__name__ = operation.__name__
    app.route(path, methods=ALL_METHODS, content_types=BODY_TYPES)(view)


def lambda_handler(event: dict, context: object) -> dict:
    """Lambda entry point behind an API Gateway ``{proxy+}`` resource.

    Chalice routes on ``requestContext.resourcePath``, which a proxy
    resource sets to ``/{proxy+}``. No route has path parameters, so the
    request path itself is the route to run.
    """
    path = event.get("path") or ""
    if path not in app.routes:
        body = {"description": f"no endpoint at {path}; the endpoints are listed at /v1/openapi.json"}
        return {
            "statusCode": 404,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
            "isBase64Encoded": False,
        }

    event.setdefault("requestContext", {})["resourcePath"] = path
    event["resource"] = path
    event["pathParameters"] = None
    return app(event, context)


_route("/v1/init_project", projects.init_project, ["POST"])
_route("/v1/get_projects", projects.get_projects, ["GET", "POST"])
_route("/v1/get_project_settings", projects.get_project_settings, ["GET", "POST"])
_route("/v1/set_project_settings", projects.set_project_settings, ["POST"])
_route("/v1/add_tags", projects.add_tags, ["POST"])
_route("/v1/get_tags", projects.get_tags, ["GET", "POST"])
_route("/v1/delete_tags", projects.delete_tags, ["POST"])
_route("/v1/add_custom_model_config", custom_models.add_custom_model_config, ["POST"])
_route("/v1/set_active_custom_model", custom_models.set_active_custom_model, ["POST"])
_route("/v1/get_custom_models", custom_models.get_custom_models, ["GET", "POST"])
_route("/v1/push_video", videos.push_video, ["POST"])
_route("/v1/get_all_jobs", videos.get_all_jobs, ["GET", "POST"])
_route("/v1/get_job_status", videos.get_job_status, ["GET", "POST"])
_route("/v1/get_metadata", frames.get_metadata, ["GET", "POST"])
_route("/v1/get_intervals", frames.get_intervals, ["GET", "POST"])
_route("/v1/export_metadata", exports.export_metadata, ["GET", "POST"])
_route("/v1/get_exports_status", exports.get_exports_status, ["GET", "POST"])


@app.route(OPENAPI_PATH, methods=ALL_METHODS, content_types=BODY_TYPES)
def get_openapi() -> Response:
    """Serve the OpenAPI description without an API key, so tools can read it before they have one."""
    if app.current_request.method != "GET":
        return _error(405, f"method {app.current_request.method} is not allowed here; use GET")
    return Response(body=build_document(), status_code=200)
