"""The OpenAPI description: valid, complete, served, and fuzzed against a real server.

The fuzz test runs schemathesis's generated requests against ``framesieve
serve`` on 127.0.0.1 and fails on any 5xx, on a response that breaks the
document, and on an error body without a non-empty ``description``.
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import re
import time
from pathlib import Path

import pytest

from api_stack import build_stack
from framesieve.api import ALL_METHODS, app
from framesieve.openapi import OPENAPI_PATH, OPERATIONS, build_document
from test_server import ServerProcess
from video_corpus import write_clip

logger = logging.getLogger(__name__)

# Generated requests per operation and generation mode (positive, negative).
MAX_EXAMPLES = 20
FUZZ_PROJECT = "fuzz"

# A URL with any scheme but file:// would make the server fetch from
# another host, which tests must never cause.
_FOREIGN_URL = re.compile(r"(?i)(?<![a-z0-9+.-])(?!file:)[a-z][a-z0-9+.-]*:/")


def _documented_methods(document: dict) -> dict[str, set[str]]:
    return {path: {method.upper() for method in item} for path, item in document["paths"].items()}


def test_document_valid_openapi_3():
    validator = pytest.importorskip("openapi_spec_validator")

    document = build_document()

    validator.validate(document)
    assert document["openapi"].startswith("3.0.")


def test_document_covers_every_route():
    documented = set(build_document()["paths"])
    routed = set(app.routes)

    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented paths the app does not route"


def test_document_errors_have_description_schema():
    document = build_document()
    error_schema = document["components"]["schemas"]["Error"]

    assert error_schema["required"] == ["description"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


@pytest.fixture
def stack(tmp_path):
    with build_stack("embedded", tmp_path, tmp_path) as running:
        yield running


def test_openapi_served_without_key(stack):
    response = stack.client.http.get(OPENAPI_PATH)

    assert response.status_code == 200
    assert json.loads(response.body) == json.loads(json.dumps(build_document()))


def test_routed_methods_match_document(stack):
    """Documented methods reach the operation (401 without a key); every other method gets 405."""
    documented = _documented_methods(build_document())

    for path, methods in documented.items():
        for method in ALL_METHODS:
            response = stack.client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")
            body = json.loads(response.body)
            if method in methods:
                assert response.status_code in (200, 401), (path, method, body)
            else:
                assert response.status_code == 405, (path, method, body)
                assert body["description"], (path, method)


def test_operation_paths_unique():
    paths = [operation.path for operation in OPERATIONS]

    assert len(paths) == len(set(paths))


# Fuzzing a real server.


def _fuzz_document(clip_uri: str) -> dict:
    """The served document with every fetched URL pinned to a local clip, so fuzzing fetches nothing remote."""
    document = copy.deepcopy(build_document())
    local_url = {"type": "string", "enum": [clip_uri]}
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "video_url":
                    parameter["schema"] = local_url
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            properties = body.get("properties", {})
            if "video_url" in properties:
                properties["video_url"] = local_url
            if "file_urls" in properties:
                properties["file_urls"]["items"] = local_url
    return document


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _aims_elsewhere(case) -> bool:
    return any(_FOREIGN_URL.search(text) for text in _strings([case.body, case.query, case.path_parameters]))


def _use_fuzz_project(case) -> None:
    """Point valid requests at the project the test created, so they get past the 404."""
    if isinstance(case.body, dict) and "project_name" in case.body:
        case.body["project_name"] = FUZZ_PROJECT
    if isinstance(case.query, dict) and "project_name" in case.query:
        case.query["project_name"] = FUZZ_PROJECT


@pytest.fixture
def fuzz_server(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    clip = write_clip(media / "clip.avi", 12, (64, 48))
    running = ServerProcess(
        tmp_path / "home", media,
        segment_frames=200, workers=1, rate_limit_per_second=100000, rate_limit_burst=100000,
    ).start()
    try:
        yield running, clip
    finally:
        running.stop()


def test_fuzz_server_no_server_errors(fuzz_server):
    schemathesis = pytest.importorskip("schemathesis")
    import requests
    from hypothesis import HealthCheck, Phase, given, reject, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )
    from schemathesis.core.failures import FailureGroup

    server, clip = fuzz_server
    key = server.create_key("fuzzer")
    headers = {"X-API-Key": key}
    session = requests.Session()
    created = session.post(f"{server.base_url}/v1/init_project", json={"project_name": FUZZ_PROJECT}, headers=headers)
    assert created.status_code == 200, created.text

    schema = schemathesis.openapi.from_dict(_fuzz_document(Path(clip).as_uri()))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    statuses: collections.Counter = collections.Counter()
    failures: list[str] = []
    unsatisfiable: list[str] = []

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case) -> None:
                if _aims_elsewhere(case):
                    reject()
                if mode == schemathesis.GenerationMode.POSITIVE:
                    _use_fuzz_project(case)

                response = case.call(base_url=server.base_url, session=session, headers=headers, timeout=30)
                statuses[response.status_code] += 1
                label = f"{operation.method.upper()} {operation.path} [{mode.value}]"
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except FailureGroup as group:
                    failures.append(f"{label}: {[failure.title for failure in group.exceptions]} {case.as_curl_command()}")

                if response.status_code >= 400:
                    try:
                        description = response.json().get("description")
                    except ValueError:
                        description = None
                    if not isinstance(description, str) or not description.strip():
                        failures.append(f"{label}: error {response.status_code} without description: {response.text[:200]}")

            sent_before = sum(statuses.values())
            started = time.monotonic()
            try:
                exercise()
            except Unsatisfiable:
                # Negative mode has nothing to break in an operation without parameters.
                unsatisfiable.append(f"{operation.method.upper()} {operation.path} [{mode.value}]")
            logger.info(
                "fuzzed %s %s [%s]: %d requests in %.1f s",
                operation.method.upper(), operation.path, mode.value, sum(statuses.values()) - sent_before,
                time.monotonic() - started,
            )

    requests_sent = sum(statuses.values())
    logger.info(
        "fuzzing sent %d requests, statuses %s, failures %d, no cases for %s",
        requests_sent, dict(statuses), len(failures), unsatisfiable,
    )
    assert requests_sent >= MAX_EXAMPLES * 10
    assert all(status < 500 for status in statuses), dict(statuses)
    assert failures == []


# Requests schemathesis does not generate: each must get a 4xx with a description.
# The project has a custom tag "x", so a filter on x reaches the value checks.
ODD_REQUESTS = [
    ("POST", "/v1/get_metadata", b"[" * 100_000, 400),
    ("POST", "/v1/get_metadata", b'{"project_name": "fuzz", "a": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    ("POST", "/v1/get_metadata", b'{"project_name": "fuzz", "tags": {"x": {"a": 1}}}', 400),
    ("POST", "/v1/get_intervals", b'{"project_name": "fuzz", "x": [[1]]}', 400),
    ("POST", "/v1/init_project", b'{"project_name": "\xff"}', 400),
    ("POST", "/v1/get_projects", b"null", 400),
    ("GET", "/v1/get_metadata?project_name=%ff", b"", 400),
    ("GET", "/v1/no_such_endpoint", b"", 404),
    ("POST", "/", b"{}", 404),
]


@pytest.mark.parametrize("method, path, body, expected", ODD_REQUESTS)
def test_server_odd_request_rejected(fuzz_server, method, path, body, expected):
    import http.client

    server, _ = fuzz_server
    key = server.create_key("odd")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/v1/init_project", body=json.dumps({"project_name": FUZZ_PROJECT}), headers={"X-API-Key": key})
    created = connection.getresponse()
    assert created.status == 200, created.read()
    created.read()
    connection.request("POST", "/v1/add_tags", body=json.dumps({"project_name": FUZZ_PROJECT, "tags": ["x"]}), headers={"X-API-Key": key})
    tagged = connection.getresponse()
    assert tagged.status == 200, tagged.read()
    tagged.read()

    headers = {"X-API-Key": key, "Content-Type": "application/json", "Content-Length": str(len(body))}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()

    assert response.status == expected, payload[:300]
    assert json.loads(payload)["description"]
