"""The API as deployed: API Gateway proxy events through the Lambda handler, on moto."""

from __future__ import annotations

import json

import pytest

from api_stack import build_stack
from framesieve.api import lambda_handler


def proxy_event(method: str, path: str, key: str | None = None, body: dict | None = None, query: dict | None = None) -> dict:
    """An API Gateway REST proxy event as a ``{proxy+}`` resource delivers it."""
    headers = {"Content-Type": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    if key is not None:
        headers["X-API-Key"] = key
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "test-request",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def aws_stack(tmp_path):
    with build_stack("aws", tmp_path, tmp_path) as stack:
        yield stack


def test_proxy_events_reach_routes(aws_stack):
    key = aws_stack.new_key()

    response = lambda_handler(proxy_event("POST", "/v1/init_project", key, {"project_name": "deployed"}), None)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["description"] == "Created project deployed"

    response = lambda_handler(proxy_event("GET", "/v1/get_tags", key, query={"project_name": "deployed"}), None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["tag_status"]["project_name"] == "deployed"

    response = lambda_handler(proxy_event("GET", "/v1/get_projects"), None)
    assert response["statusCode"] == 401
    assert "X-API-Key" in json.loads(response["body"])["description"]


def test_unknown_path_is_json_404(aws_stack):
    response = lambda_handler(proxy_event("GET", "/v1/no_such_endpoint"), None)
    assert response["statusCode"] == 404
    assert "openapi.json" in json.loads(response["body"])["description"]
