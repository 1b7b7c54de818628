"""Lambda handlers of the pipeline steps, one per state of the state machines.

Each handler passes the state input to the step function of the same name
in ``framesieve.pipeline.job`` or ``framesieve.pipeline.export`` and returns
its result as the state output. Exceptions propagate, so Step Functions
reports the exception's class name as the error and applies the state's
Retry and Catch rules.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

JOB_MODULE = "framesieve.pipeline.job"
EXPORT_MODULE = "framesieve.pipeline.export"

Step = Callable[[dict[str, Any]], dict[str, Any]]


def _run(module: str, step: str, event: dict[str, Any]) -> dict[str, Any]:
    # Imported per call, not at module load, so the import error of a
    # missing module surfaces as this step's failure, with its name.
    function: Step = getattr(importlib.import_module(module), step)
    logger.info("step started: step=%s job_id=%s export_id=%s", step, event.get("job_id"), event.get("export_id"))
    result = function(event)
    logger.info("step finished: step=%s job_id=%s export_id=%s", step, event.get("job_id"), event.get("export_id"))
    return result


def fetch_video(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(JOB_MODULE, "fetch_video", event)


def probe_and_plan(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(JOB_MODULE, "probe_and_plan", event)


def merge_segments(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(JOB_MODULE, "merge_segments", event)


def finalize_job(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(JOB_MODULE, "finalize_job", event)


def fail_job(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(JOB_MODULE, "fail_job", event)


def build_export(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(EXPORT_MODULE, "build_export", event)


def fail_export(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _run(EXPORT_MODULE, "fail_export", event)
