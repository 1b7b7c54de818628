"""Run the real pipeline steps in the order the synthesized job state machine wires them.

The job state machine's definition is read from the synthesized template
and interpreted state by state. A Lambda task calls the handler named by its
function's image command. A Batch task runs ``handlers.batch`` in-process
with the environment its ContainerOverrides build. Pass, Choice, Map,
Catch, ResultPath and OutputPath follow the Amazon States Language. The
records and blobs live in DynamoDB and S3 tables and buckets that moto
serves, created from the same table design the CDK stack deploys.

moto runs no Lambda handler and no Batch container without Docker, which is
why this module interprets the definition itself instead of starting an
execution in moto's Step Functions.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
for path in (REPO_ROOT, REPO_ROOT / "functions"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from handlers import batch as batch_entrypoint  # noqa: E402
from infra.app import build_stacks  # noqa: E402
from infra.tables import TABLES  # noqa: E402

PREFIX = "fs-wiring"
BUCKET = "fs-wiring-blobs"
REGION = "us-east-1"
CUSTOMER = "c" * 64
PROJECT_ID = "project-1"
SEGMENT_FRAMES = 40
CLIP_FRAMES = 100

JOB_STEPS = ["fetch_video", "probe_and_plan", "process_segment", "merge_segments", "finalize_job"]


# Reading the synthesized definition


@pytest.fixture(scope="module")
def job_pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The job state machine definition and the handler behind each function and job definition."""
    os.environ["CDK_HOME"] = str(tmp_path_factory.mktemp("cdk-home"))
    app = App(context={"framesieve:layers": "placeholder"}, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stacks = build_stacks(app, check=False)
    app.synth()
    template = Template.from_stack(stacks.pipeline)

    machine = next(
        resource
        for resource in template.find_resources("AWS::StepFunctions::StateMachine").values()
        if resource["Properties"]["StateMachineName"] == "framesieve-job-pipeline"
    )
    definition = json.loads(render(machine["Properties"]["DefinitionString"]))

    handlers = {
        f"<{logical_id}.Arn>": function["Properties"]["ImageConfig"]["Command"][0]
        for logical_id, function in template.find_resources("AWS::Lambda::Function").items()
    }
    commands = {
        logical_id: definition_["Properties"]["ContainerProperties"]["Command"]
        for logical_id, definition_ in template.find_resources("AWS::Batch::JobDefinition").items()
    }
    return {"definition": definition, "handlers": handlers, "commands": commands}


def render(value: Any) -> str:
    """Flatten an intrinsic-function value, writing a resource reference as ``<LogicalId>``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": "123456789012"}.get(
            value["Ref"], f"<{value['Ref']}>"
        )
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise AssertionError(f"unexpected intrinsic: {value!r}")


def batch_command(pipeline: dict[str, Any], task: dict[str, Any]) -> list[str]:
    """Container command of the job definition a Batch task submits."""
    reference = task["Parameters"]["JobDefinition"]
    logical_id = reference.strip("<>")
    return pipeline["commands"][logical_id]


def walk_steps(pipeline: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(state name, kind, entry point) of each step along the success path, in order."""
    states = pipeline["definition"]["States"]
    steps = []
    name = pipeline["definition"]["StartAt"]

    while states[name]["Type"] != "Succeed":
        state = states[name]
        if state["Type"] == "Task":
            steps.append((name, "lambda", pipeline["handlers"][state["Parameters"]["FunctionName"]]))
        if state["Type"] == "Map":
            inner = state["ItemProcessor"]["States"]
            commands = {
                " ".join(batch_command(pipeline, task))
                for task in inner.values()
                if task["Type"] == "Task" and task["Resource"].endswith("batch:submitJob.sync")
            }
            assert len(commands) == 1, commands
            steps.append((name, "batch", commands.pop()))
        if state["Type"] == "Choice":
            name = state["Default"]
            continue
        name = state["Next"]
    return steps


def step_function_name(kind: str, entry_point: str) -> str:
    """The ``framesieve.pipeline.job`` function an entry point runs."""
    if kind == "lambda":
        module, function = entry_point.rsplit(".", 1)
        assert module == "handlers.steps", entry_point
        return function
    python, flag, module, step = entry_point.split()
    assert (python, flag, module) == ("python", "-m", "handlers.batch"), entry_point
    return step


def test_steps_follow_pipeline_order(job_pipeline: dict[str, Any]) -> None:
    steps = walk_steps(job_pipeline)
    assert [step_function_name(kind, entry) for _, kind, entry in steps] == JOB_STEPS
    assert [kind for _, kind, _ in steps] == ["lambda", "lambda", "batch", "lambda", "lambda"]


def test_entry_points_reach_pipeline_functions(job_pipeline: dict[str, Any]) -> None:
    job = importlib.import_module("framesieve.pipeline.job")
    steps_module = importlib.import_module("handlers.steps")

    for _, kind, entry in walk_steps(job_pipeline):
        name = step_function_name(kind, entry)
        assert callable(getattr(job, name)), name
        if kind == "lambda":
            assert callable(getattr(steps_module, name)), name
        else:
            assert name in batch_entrypoint.STEPS
    assert callable(getattr(steps_module, "fail_job"))


def test_batch_payload_rejects_bad_json() -> None:
    variable = batch_entrypoint.PAYLOAD_VARIABLE
    from framesieve.errors import BadRequest

    with pytest.raises(BadRequest, match="is not set"):
        batch_entrypoint.read_payload({})
    with pytest.raises(BadRequest, match="not valid JSON"):
        batch_entrypoint.read_payload({variable: "{job_id"})
    with pytest.raises(BadRequest, match="JSON object"):
        batch_entrypoint.read_payload({variable: "[1, 2]"})
    assert batch_entrypoint.read_payload({variable: '{"job_id": "j1"}'}) == {"job_id": "j1"}


# A small interpreter for the States Language features the definition uses


class StateFailed(Exception):
    """A task raised; ``error`` is the Step Functions error name."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def read_path(document: Any, path: str, context: dict[str, Any]) -> Any:
    root, rest = (context, path[2:]) if path.startswith("$$") else (document, path[1:])
    value = root
    for part in filter(None, rest.split(".")):
        value = value[part]
    return value


def resolve(template: Any, document: Any, context: dict[str, Any]) -> Any:
    """Build a Parameters, Payload or ItemSelector object from ``document``."""
    if isinstance(template, list):
        return [resolve(item, document, context) for item in template]
    if not isinstance(template, dict):
        return template
    resolved = {}
    for key, value in template.items():
        if key.endswith(".$"):
            if value.startswith("States.JsonToString("):
                resolved[key[:-2]] = json.dumps(read_path(document, value[len("States.JsonToString(") : -1], context))
            else:
                resolved[key[:-2]] = read_path(document, value, context)
        else:
            resolved[key] = resolve(value, document, context)
    return resolved


def write_result(document: Any, result_path: str | None, result: Any) -> Any:
    if result_path is None:
        return document
    if result_path == "$":
        return result
    output = dict(document)
    output[result_path[2:]] = result
    return output


def matches(condition: dict[str, Any], document: Any) -> bool:
    if "And" in condition:
        return all(matches(part, document) for part in condition["And"])
    try:
        value = read_path(document, condition["Variable"], {})
        present = True
    except (KeyError, TypeError):
        value, present = None, False
    if "IsPresent" in condition:
        return present == condition["IsPresent"]
    if "BooleanEquals" in condition:
        return present and value is condition["BooleanEquals"]
    raise AssertionError(f"unsupported Choice rule: {condition}")


class Interpreter:
    """Runs a definition with Lambda tasks as handler calls and Batch tasks as in-process commands."""

    def __init__(self, pipeline: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.visited: list[str] = []
        self.caught: list[tuple[str, str, str]] = []

    def run(self, states: dict[str, Any], start: str, document: Any, context: dict[str, Any]) -> Any:
        name = start
        while True:
            state = states[name]
            self.visited.append(name)
            kind = state["Type"]

            if kind in ("Succeed", "Fail"):
                if kind == "Fail":
                    raise StateFailed(state["Error"], state["Cause"])
                return document
            if kind == "Choice":
                name = next((rule["Next"] for rule in state["Choices"] if matches(rule, document)), state["Default"])
                continue
            if kind == "Pass":
                result = resolve(state["Parameters"], document, context) if "Parameters" in state else state.get("Result", document)
                document = write_result(document, state.get("ResultPath", "$"), result)
            else:
                try:
                    result = self.task(state, document, context) if kind == "Task" else self.map(state, document, context)
                except StateFailed as failure:
                    catch = next(
                        (rule for rule in state.get("Catch", []) if {"States.ALL", failure.error} & set(rule["ErrorEquals"])),
                        None,
                    )
                    if catch is None:
                        raise
                    self.caught.append((name, failure.error, failure.cause))
                    document = write_result(
                        document, catch["ResultPath"], {"Error": failure.error, "Cause": failure.cause}
                    )
                    name = catch["Next"]
                    continue
                document = write_result(document, state.get("ResultPath", "$"), result)
                if "OutputPath" in state:
                    document = read_path(document, state["OutputPath"], context)

            if state.get("End"):
                return document
            name = state["Next"]

    def map(self, state: dict[str, Any], document: Any, context: dict[str, Any]) -> list[Any]:
        processor = state["ItemProcessor"]
        results = []
        for index, item in enumerate(read_path(document, state["ItemsPath"], context)):
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
            item_input = resolve(state["ItemSelector"], document, item_context)
            results.append(self.run(processor["States"], processor["StartAt"], item_input, item_context))
        return results

    def task(self, state: dict[str, Any], document: Any, context: dict[str, Any]) -> Any:
        parameters = resolve(state["Parameters"], document, context)
        try:
            if state["Resource"].endswith(":lambda:invoke"):
                handler = self.pipeline["handlers"][parameters["FunctionName"]]
                module, function = handler.rsplit(".", 1)
                payload = json.loads(json.dumps(parameters["Payload"]))
                output = getattr(importlib.import_module(module), function)(payload, None)
                return {"Payload": json.loads(json.dumps(output)), "StatusCode": 200}

            if state["Resource"].endswith(":batch:submitJob.sync"):
                command = batch_command(self.pipeline, state)
                environment = {item["Name"]: item["Value"] for item in parameters["ContainerOverrides"]["Environment"]}
                assert command[:3] == ["python", "-m", "handlers.batch"], command
                status = batch_entrypoint.main(command[3:], environ=environment)
                if status != 0:
                    raise StateFailed("States.TaskFailed", f"Batch job exited with status {status}")
                return {"Status": "SUCCEEDED"}
        except StateFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a task failure of any type becomes a Catch-able error, as in Step Functions.
            raise StateFailed(type(exc).__name__, str(exc)) from exc
        raise AssertionError(f"unsupported task resource: {state['Resource']}")


# The AWS adapters on moto


def write_clip(path: Path, frames: int) -> Path:
    """Write an MJPG clip of moving bars, so every frame decodes and differs."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    assert writer.isOpened(), "OpenCV could not open an MJPG writer"
    for index in range(frames):
        image = np.full((120, 160, 3), 40, dtype=np.uint8)
        cv2.rectangle(image, (index % 150, 20), (index % 150 + 10, 100), (220, 220, 220), -1)
        writer.write(image)
    writer.release()
    return path


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def aws_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """framesieve's DynamoDB records and S3 blobs on moto, with tables made from the CDK table design.

    The settings name the embedded backend only so that the fetch policy
    admits the loopback URL of the test's own HTTP server, because on the
    aws backend it rejects loopback addresses.
    """
    moto = pytest.importorskip("moto")
    import boto3

    from framesieve import runtime
    from framesieve.blobs.s3 import S3BlobStore
    from framesieve.records.dynamo import DynamoRecordStore
    from framesieve.settings import Settings

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    with moto.mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for design in TABLES:
            create_table(dynamodb, design)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)

        settings = Settings(
            home=tmp_path / "home",
            allow_loopback_urls=True,
            segment_frames=SEGMENT_FRAMES,
            aws_table_prefix=PREFIX,
            aws_blob_bucket=BUCKET,
        )
        current = runtime.Runtime(
            settings=settings,
            records=DynamoRecordStore(PREFIX, region=REGION),
            blobs=S3BlobStore(BUCKET),
        )
        runtime.install(current)
        try:
            yield current
        finally:
            runtime.install(None)


def create_table(client: Any, design: Any) -> None:
    keys = [(design.partition, "HASH")] + ([(design.sort, "RANGE")] if design.sort else [])
    attributes = {key.name: key.kind for key, _ in keys}
    indexes = []
    for index in design.indexes:
        index_keys = [(index.partition, "HASH")] + ([(index.sort, "RANGE")] if index.sort else [])
        attributes.update({key.name: key.kind for key, _ in index_keys})
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": key.name, "KeyType": role} for key, role in index_keys],
                "Projection": {"ProjectionType": "ALL"},
            }
        )

    arguments: dict[str, Any] = {
        "TableName": design.table_name(PREFIX),
        "KeySchema": [{"AttributeName": key.name, "KeyType": role} for key, role in keys],
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        arguments["GlobalSecondaryIndexes"] = indexes
    client.create_table(**arguments)


def queue_job(current: Any, job_id: str, video_url: str) -> None:
    from framesieve.records.base import ApiKey, Job, JobStatus, Project

    now = time.time()
    current.records.put_api_key(ApiKey(key_hash=CUSTOMER, customer_id=CUSTOMER, name="wiring", created_at=now))
    current.records.create_project(
        Project(project_id=PROJECT_ID, customer_id=CUSTOMER, project_name="wiring", created_at=now)
    )
    current.records.create_job(
        Job(
            job_id=job_id,
            project_id=PROJECT_ID,
            customer_id=CUSTOMER,
            video_name=f"{job_id}.avi",
            video_url=video_url,
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
        )
    )


def count_decoded_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    return frames


def test_job_pipeline_runs_on_moto(job_pipeline: dict[str, Any], aws_runtime: Any, tmp_path: Path) -> None:
    from framesieve import keys
    from framesieve.records.base import JobStatus

    media = tmp_path / "media"
    media.mkdir()
    clip = write_clip(media / "bars.avi", CLIP_FRAMES)
    expected_frames = count_decoded_frames(clip)
    interpreter = Interpreter(job_pipeline)
    definition = job_pipeline["definition"]

    # Without detector tags the plan requests no GPU, so segments take the CPU queue.
    for tag in ("person_detected", "person_count", "face_detected", "text_detected"):
        aws_runtime.records.delete_tag(PROJECT_ID, tag)

    with serve_folder(media) as base_url:
        queue_job(aws_runtime, "job-ok", f"{base_url}/bars.avi")
        try:
            output = interpreter.run(definition["States"], definition["StartAt"], {"job_id": "job-ok"}, {})
        except StateFailed:
            pytest.fail(f"the execution failed; caught errors (state, error, cause): {interpreter.caught}")

    assert interpreter.caught == []
    assert output == {"job_id": "job-ok", "status": "finished"}
    assert interpreter.visited.count("Process segment on CPU") == -(-expected_frames // SEGMENT_FRAMES)

    job = aws_runtime.records.get_job("job-ok")
    assert job.status == JobStatus.FINISHED
    assert job.frame_count == expected_frames
    assert job.index_key == keys.frame_index(CUSTOMER, PROJECT_ID, "job-ok")
    assert aws_runtime.blobs.get_bytes(job.manifest_key)
    transit = keys.transit_video(CUSTOMER, PROJECT_ID, "job-ok")
    with pytest.raises(Exception, match="not found|NoSuchKey|404"):
        aws_runtime.blobs.get_bytes(transit)


def test_job_pipeline_failure_reaches_fail_job(job_pipeline: dict[str, Any], aws_runtime: Any, tmp_path: Path) -> None:
    from framesieve.records.base import JobStatus

    media = tmp_path / "media"
    media.mkdir()
    (media / "not-a-video.avi").write_bytes(b"this file holds text, not video frames\n" * 64)
    interpreter = Interpreter(job_pipeline)
    definition = job_pipeline["definition"]

    with serve_folder(media) as base_url:
        queue_job(aws_runtime, "job-bad", f"{base_url}/not-a-video.avi")
        with pytest.raises(StateFailed) as failure:
            interpreter.run(definition["States"], definition["StartAt"], {"job_id": "job-bad"}, {})

    assert failure.value.error == "JobFailed"
    assert interpreter.visited[-2:] == ["Record job failure", "Job failed"]
    assert "Process segments" not in interpreter.visited

    job = aws_runtime.records.get_job("job-bad")
    assert job.status == JobStatus.FAILED
    assert job.reason
