"""State machine definitions of the job pipeline and the export pipeline.

Every step is a plain function of ``framesieve.pipeline.job`` or
``framesieve.pipeline.export`` that takes one JSON object and returns one.
A state's output is the next state's input. Any error that survives the
retries goes to the failure step, which records the reason, and then to a
Fail state, so the execution itself shows as failed.

The segment step runs in AWS Batch, whose ``.sync`` result is the Batch job
description and not the step's output. Its Map iteration therefore returns
``{"job_id", "segment_index"}`` only, and ``merge_segments`` derives each
part's key from those two ids (``framesieve.keys.segment_part``) and reads
its frame count from the part itself.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.batch import PAYLOAD_VARIABLE, SegmentTarget

# Errors worth another try: Lambda's own transient failures, and
# framesieve.errors.StorageError, which a step raises when DynamoDB or S3
# failed and nothing took effect.
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
STORAGE_ERRORS = ["StorageError"]
# Step Functions names service errors "<Service>.<Exception>". These are
# the AWS Batch API's server-side and throttling errors from SubmitJob and
# DescribeJobs.
# NOTE: the names follow that rule but no test ran them against a live account.
BATCH_TRANSIENT_ERRORS = [
    "Batch.AWSBatchException",
    "Batch.ServerException",
    "Batch.TooManyRequestsException",
]


def _retry_transient(task: sfn.TaskStateBase, errors: list[str]) -> None:
    task.add_retry(
        errors=errors,
        interval=Duration.seconds(2),
        max_attempts=6,
        backoff_rate=2.0,
        max_delay=Duration.minutes(1),
        jitter_strategy=sfn.JitterType.FULL,
    )


def lambda_step(
    scope: Construct,
    state_name: str,
    function: lambda_.IFunction,
    payload: sfn.TaskInput | None = None,
) -> tasks.LambdaInvoke:
    """Invoke ``function`` with the state input (or ``payload``); the state output is its return value."""
    task = tasks.LambdaInvoke(
        scope,
        state_name,
        lambda_function=function,
        payload=payload or sfn.TaskInput.from_json_path_at("$"),
        output_path="$.Payload",
        retry_on_service_exceptions=False,
    )
    _retry_transient(task, LAMBDA_TRANSIENT_ERRORS)
    task.add_retry(
        errors=STORAGE_ERRORS,
        interval=Duration.seconds(5),
        max_attempts=3,
        backoff_rate=3.0,
    )
    return task


def _segment_job(
    scope: Construct, state_name: str, target: SegmentTarget, timeout_minutes: int
) -> tasks.BatchSubmitJob:
    task = tasks.BatchSubmitJob(
        scope,
        state_name,
        job_name="framesieve-segment",
        job_queue_arn=target.queue.job_queue_arn,
        job_definition_arn=target.job_definition.job_definition_arn,
        container_overrides=tasks.BatchContainerOverrides(
            environment={PAYLOAD_VARIABLE: sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.step_input"))}
        ),
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        # The iteration's input passes through, so the next state can name
        # the segment; the Batch job description is dropped.
        result_path=sfn.JsonPath.DISCARD,
        # Batch stops each attempt at the job definition's timeout; this
        # bound covers the queue wait and the retried attempts on top.
        task_timeout=sfn.Timeout.duration(Duration.minutes(timeout_minutes * 4)),
    )
    _retry_transient(task, BATCH_TRANSIENT_ERRORS)
    return task


def job_definition(
    scope: Construct,
    steps: dict[str, lambda_.IFunction],
    gpu: SegmentTarget,
    cpu: SegmentTarget,
    *,
    segment_concurrency: int,
    segment_timeout_minutes: int,
) -> sfn.IChainable:
    """Chain the job pipeline: fetch, probe and plan, segments in Batch, merge, finalize."""
    record_failure = lambda_step(
        scope,
        "Record job failure",
        steps["fail_job"],
        sfn.TaskInput.from_object({"job_id": sfn.JsonPath.string_at("$.job_id"), "error": sfn.JsonPath.object_at("$.error")}),
    )
    job_failed = sfn.Fail(scope, "Job failed", error="JobFailed", cause="A pipeline step failed; the job record holds the reason")
    record_failure.add_catch(job_failed, errors=[sfn.Errors.ALL], result_path="$.failure_error")
    record_failure.next(job_failed)

    def catching(task: sfn.TaskStateBase | sfn.Map) -> sfn.TaskStateBase | sfn.Map:
        task.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path="$.error")
        return task

    fetch = catching(lambda_step(scope, "Fetch video", steps["fetch_video"]))
    plan = catching(lambda_step(scope, "Probe and plan", steps["probe_and_plan"]))

    # probe_and_plan sets needs_gpu when the project shows a detector tag
    # (person_detected and the like) or has an active custom model. Without
    # the flag the segments run on the CPU queue.
    use_gpu = sfn.Pass(scope, "Use GPU queue", result=sfn.Result.from_boolean(True), result_path="$.use_gpu")
    use_cpu = sfn.Pass(scope, "Use CPU queue", result=sfn.Result.from_boolean(False), result_path="$.use_gpu")
    choose_queue = sfn.Choice(scope, "Choose segment queue")

    segments = sfn.Map(
        scope,
        "Process segments",
        items_path="$.segments",
        item_selector={
            "use_gpu": sfn.JsonPath.string_at("$.use_gpu"),
            "step_input": {
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "video_key": sfn.JsonPath.string_at("$.video_key"),
                "info": sfn.JsonPath.object_at("$.info"),
                # The model versions the plan fixed, so every segment runs the same ones.
                "models": sfn.JsonPath.list_at("$.models"),
                "model_tags": sfn.JsonPath.list_at("$.model_tags"),
                "cascade": sfn.JsonPath.object_at("$.cascade"),
                "segment": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            },
        },
        max_concurrency=segment_concurrency,
        result_path="$.parts",
    )
    gpu_job = _segment_job(scope, "Process segment on GPU", gpu, segment_timeout_minutes)
    cpu_job = _segment_job(scope, "Process segment on CPU", cpu, segment_timeout_minutes)
    segment_result = sfn.Pass(
        scope,
        "Segment result",
        parameters={
            "job_id": sfn.JsonPath.string_at("$.step_input.job_id"),
            "segment_index": sfn.JsonPath.number_at("$.step_input.segment.index"),
        },
    )
    segments.item_processor(
        sfn.Choice(scope, "GPU or CPU")
        .when(sfn.Condition.boolean_equals("$.use_gpu", True), gpu_job.next(segment_result))
        .otherwise(cpu_job.next(segment_result))
    )
    catching(segments)

    merge = catching(
        lambda_step(
            scope,
            "Merge segments",
            steps["merge_segments"],
            sfn.TaskInput.from_object({"job_id": sfn.JsonPath.string_at("$.job_id"), "parts": sfn.JsonPath.list_at("$.parts")}),
        )
    )
    finalize = catching(lambda_step(scope, "Finalize job", steps["finalize_job"]))

    use_gpu.next(segments)
    use_cpu.next(segments)
    choose_queue.when(
        sfn.Condition.and_(
            sfn.Condition.is_present("$.needs_gpu"),
            sfn.Condition.boolean_equals("$.needs_gpu", True),
        ),
        use_gpu,
    ).otherwise(use_cpu)

    segments.next(merge).next(finalize).next(sfn.Succeed(scope, "Job finished"))
    return fetch.next(plan).next(choose_queue)


def export_definition(scope: Construct, steps: dict[str, lambda_.IFunction]) -> sfn.IChainable:
    """Chain the export pipeline: build the tarball, or record why it failed."""
    record_failure = lambda_step(
        scope,
        "Record export failure",
        steps["fail_export"],
        sfn.TaskInput.from_object(
            {"export_id": sfn.JsonPath.string_at("$.export_id"), "error": sfn.JsonPath.object_at("$.error")}
        ),
    )
    export_failed = sfn.Fail(
        scope, "Export failed", error="ExportFailed", cause="Building the export failed; the export record holds the reason"
    )
    record_failure.add_catch(export_failed, errors=[sfn.Errors.ALL], result_path="$.failure_error")
    record_failure.next(export_failed)

    build = lambda_step(scope, "Build export", steps["build_export"])
    build.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path="$.error")
    return build.next(sfn.Succeed(scope, "Export complete"))
