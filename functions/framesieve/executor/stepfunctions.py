"""Executor that starts one Step Functions execution per job or export.

The execution name is derived from the job or export id. Step Functions
keeps a standard workflow's execution names unique for 90 days after the
execution closes, so a retried API call cannot start the pipeline twice.
The second ``StartExecution`` either returns the running execution (same
name and input) or fails with ``ExecutionAlreadyExists``, which is taken as
success.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from framesieve.errors import StorageError
from framesieve.executor.base import Executor

logger = logging.getLogger(__name__)

# Step Functions limits execution names to 80 characters; letters, digits,
# '-' and '_' are the characters that also keep CloudWatch logging working.
_NAME_MAX = 80
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(kind: str, record_id: str) -> str:
    """Derive the execution name for a job or export id, the same on every call."""
    name = f"{kind}-{record_id}"
    if len(name) <= _NAME_MAX and not _UNSAFE_NAME_CHARACTERS.search(name):
        return name

    # An id with other characters, or too long, keeps a readable part plus a
    # digest of the whole id, so two such ids cannot share a name.
    digest = hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:16]
    readable = _UNSAFE_NAME_CHARACTERS.sub("-", name)[: _NAME_MAX - len(digest) - 1]
    return f"{readable}-{digest}"


class StepFunctionsExecutor(Executor):
    def __init__(self, job_state_machine_arn: str, export_state_machine_arn: str, client: Any = None) -> None:
        """Start executions of the two state machines; ``client`` is a boto3 Step Functions client."""
        if not job_state_machine_arn or not export_state_machine_arn:
            raise StorageError(
                "Step Functions state machine ARNs are missing"
                " (set FRAMESIEVE_AWS_JOB_STATE_MACHINE_ARN and FRAMESIEVE_AWS_EXPORT_STATE_MACHINE_ARN)"
            )
        self.job_state_machine_arn = job_state_machine_arn
        self.export_state_machine_arn = export_state_machine_arn
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = boto3.client("stepfunctions")
            return self._client

    def start_job(self, payload: dict) -> None:
        self._start(self.job_state_machine_arn, execution_name("job", payload["job_id"]), payload)

    def start_export(self, payload: dict) -> None:
        self._start(self.export_state_machine_arn, execution_name("export", payload["export_id"]), payload)

    def _start(self, state_machine_arn: str, name: str, payload: dict) -> None:
        # Sorted keys give a retried call the same input string, which Step
        # Functions needs to treat the start as the same execution.
        execution_input = json.dumps(payload, sort_keys=True)
        try:
            response = self.client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=execution_input
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExecutionAlreadyExists":
                logger.info("execution %s already exists on %s; not starting another", name, state_machine_arn)
                return
            logger.error("could not start execution %s on %s: %s", name, state_machine_arn, exc)
            raise StorageError(f"could not start execution {name}: {code or exc}") from exc
        except BotoCoreError as exc:
            logger.error("could not start execution %s on %s: %s", name, state_machine_arn, exc)
            raise StorageError(f"could not start execution {name}: {exc}") from exc

        logger.info("started execution %s", response["executionArn"])
