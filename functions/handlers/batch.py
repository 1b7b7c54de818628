"""Command that AWS Batch runs for a pipeline step: ``python -m handlers.batch <step>``.

The state machine passes the step input as JSON in the
``FRAMESIEVE_STEP_PAYLOAD`` environment variable. The step's result is
logged, not returned: Step Functions reads a Batch job's status only, so
the merge step derives each segment's part key from the job id and the
segment index. The exit status is 0 on success and 1 when the step raised,
which fails the Batch job and sends the execution to its failure step.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from framesieve.errors import BadRequest

logger = logging.getLogger("handlers.batch")

PAYLOAD_VARIABLE = "FRAMESIEVE_STEP_PAYLOAD"
STEPS = ("process_segment",)


def read_payload(environ: dict[str, str]) -> dict[str, Any]:
    """Decode the step input from ``FRAMESIEVE_STEP_PAYLOAD``; raise ``BadRequest`` when it is missing or not an object."""
    raw = environ.get(PAYLOAD_VARIABLE)
    if raw is None:
        raise BadRequest(f"{PAYLOAD_VARIABLE} is not set; the state machine passes the step input in it")

    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{PAYLOAD_VARIABLE} is not valid JSON: {exc}") from exc

    if not isinstance(payload, dict):
        raise BadRequest(f"{PAYLOAD_VARIABLE} must hold a JSON object, got {type(payload).__name__}")
    return payload


def run_step(step: str, payload: dict[str, Any]) -> dict[str, Any]:
    from framesieve.pipeline import job

    return getattr(job, step)(payload)


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one framesieve pipeline step inside an AWS Batch job.")
    parser.add_argument("step", choices=STEPS, help="name of the framesieve.pipeline.job function to run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    payload = read_payload(dict(os.environ) if environ is None else environ)
    job_id = payload.get("job_id")
    segment = payload.get("segment") or {}
    logger.info("batch step started: step=%s job_id=%s segment=%s", args.step, job_id, segment.get("index"))

    # An exception propagates: Python prints its traceback to the job's log
    # stream and exits with status 1.
    result = run_step(args.step, payload)
    logger.info("batch step finished: step=%s job_id=%s result=%s", args.step, job_id, json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
