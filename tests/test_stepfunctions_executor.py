"""Tests for the Step Functions executor against moto's in-process Step
Functions (the only AWS stand-in)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from framesieve.errors import StorageError
from framesieve.executor.stepfunctions import StepFunctionsExecutor, execution_name

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/framesieve-test-pipeline"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 at fake credentials and no custom endpoint, so nothing reaches a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@dataclass
class Machines:
    client: Any
    job_arn: str
    export_arn: str
    executor: StepFunctionsExecutor

    def executions(self, arn: str) -> list[dict]:
        return self.client.list_executions(stateMachineArn=arn)["executions"]


@pytest.fixture
def machines(fake_aws_credentials: None) -> Iterator[Machines]:
    with mock_aws():
        client = boto3.client("stepfunctions", region_name=REGION)
        job_arn = client.create_state_machine(name="jobs", definition=DEFINITION, roleArn=ROLE_ARN)["stateMachineArn"]
        export_arn = client.create_state_machine(name="exports", definition=DEFINITION, roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
        yield Machines(client, job_arn, export_arn, StepFunctionsExecutor(job_arn, export_arn, client=client))


def test_start_job_starts_one_execution(machines: Machines) -> None:
    machines.executor.start_job({"job_id": "job-1", "attempt": 1})

    [execution] = machines.executions(machines.job_arn)
    described = machines.client.describe_execution(executionArn=execution["executionArn"])
    assert execution["name"] == "job-job-1"
    assert json.loads(described["input"]) == {"job_id": "job-1", "attempt": 1}
    assert machines.executions(machines.export_arn) == []


def test_repeated_start_job_is_one_execution(machines: Machines) -> None:
    machines.executor.start_job({"job_id": "job-1"})
    machines.executor.start_job({"job_id": "job-1"})

    assert len(machines.executions(machines.job_arn)) == 1


def test_start_after_execution_closed_is_accepted(machines: Machines) -> None:
    machines.executor.start_job({"job_id": "job-1"})
    [execution] = machines.executions(machines.job_arn)
    machines.client.stop_execution(executionArn=execution["executionArn"])

    # Step Functions raises ExecutionAlreadyExists here, and the executor takes it as started.
    machines.executor.start_job({"job_id": "job-1"})
    machines.executor.start_job({"job_id": "job-1", "different": "input"})

    assert len(machines.executions(machines.job_arn)) == 1


def test_distinct_jobs_start_distinct_executions(machines: Machines) -> None:
    machines.executor.start_job({"job_id": "job-1"})
    machines.executor.start_job({"job_id": "job-2"})

    names = sorted(execution["name"] for execution in machines.executions(machines.job_arn))
    assert names == ["job-job-1", "job-job-2"]


def test_start_export_uses_export_machine(machines: Machines) -> None:
    machines.executor.start_export({"export_id": "exp-1"})
    machines.executor.start_export({"export_id": "exp-1"})

    [execution] = machines.executions(machines.export_arn)
    assert execution["name"] == "export-exp-1"
    assert machines.executions(machines.job_arn) == []


def test_missing_state_machine_is_storage_error(machines: Machines) -> None:
    absent = machines.job_arn.replace(":jobs", ":absent")
    executor = StepFunctionsExecutor(absent, machines.export_arn, client=machines.client)

    with pytest.raises(StorageError, match="job-job-1"):
        executor.start_job({"job_id": "job-1"})


def test_missing_arns_rejected() -> None:
    with pytest.raises(StorageError, match="FRAMESIEVE_AWS_JOB_STATE_MACHINE_ARN"):
        StepFunctionsExecutor("", "arn:aws:states:us-east-1:123456789012:stateMachine:exports")


@pytest.mark.parametrize(
    "record_id",
    ["9f1c2d3e4b5a69788766554433221100", "has spaces/and:colons", "x" * 200, "ünïcode"],
)
def test_execution_name_is_valid_and_stable(record_id: str) -> None:
    name = execution_name("job", record_id)

    assert len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert execution_name("job", record_id) == name


def test_execution_name_keeps_ids_apart() -> None:
    assert execution_name("job", "a/b") != execution_name("job", "a:b")
    assert execution_name("job", "x" * 200) != execution_name("job", "x" * 201)
    assert execution_name("job", "abc") != execution_name("export", "abc")
