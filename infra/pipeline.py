"""The pipeline stack: step functions, the segment Batch queues and the two state machines.

The step functions run from the CPU image of ``functions/Dockerfile``
instead of a zip with layers, because the steps import OpenCV and PyArrow.
Their manylinux wheels for CPython 3.12 unpack to about 166 MB and 157 MB,
more than Lambda's 250 MB limit for a zip function with its layers.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import access, workflow
from infra.assets import CPU_TARGET, GPU_TARGET, pipeline_image
from infra.batch import SegmentBatch
from infra.config import DeployConfig
from infra.refs import StorageRefs, import_storage

# Handler of each step function, as "module.function" under functions/.
STEP_HANDLERS = {
    "fetch_video": "handlers.steps.fetch_video",
    "probe_and_plan": "handlers.steps.probe_and_plan",
    "merge_segments": "handlers.steps.merge_segments",
    "finalize_job": "handlers.steps.finalize_job",
    "fail_job": "handlers.steps.fail_job",
    "build_export": "handlers.steps.build_export",
    "fail_export": "handlers.steps.fail_export",
}

# Steps that hold a whole source video in /tmp (framesieve's default upload
# cap is 4 GiB) get the most ephemeral storage Lambda offers and 15 minutes.
VIDEO_STEPS = ("fetch_video", "probe_and_plan")
LONG_STEPS = ("fetch_video", "probe_and_plan", "merge_segments", "build_export")


def state_machine_name(config: DeployConfig, kind: str) -> str:
    """Name of the ``job`` or ``export`` state machine, fixed so its ARN is known before it exists."""
    return f"{config.table_prefix}-{kind}-pipeline"


def backend_environment(scope: Construct, config: DeployConfig, storage: StorageRefs) -> dict[str, str]:
    """``FRAMESIEVE_*`` variables that select the AWS backend and name its tables, buckets and state machines.

    framesieve's AWS runtime needs both state machine ARNs in every process,
    the steps included. The ARNs are built from the fixed names, because a
    reference to the state machines would make them depend on the functions
    they invoke and the functions on them.
    """
    stack = Stack.of(scope)

    def machine_arn(kind: str) -> str:
        return stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name(config, kind),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    return {
        "FRAMESIEVE_BACKEND": "aws",
        "FRAMESIEVE_AWS_TABLE_PREFIX": config.table_prefix,
        "FRAMESIEVE_AWS_BLOB_BUCKET": storage.blobs.bucket_name,
        "FRAMESIEVE_AWS_EXPORT_BUCKET": storage.exports.bucket_name,
        "FRAMESIEVE_AWS_JOB_STATE_MACHINE_ARN": machine_arn("job"),
        "FRAMESIEVE_AWS_EXPORT_STATE_MACHINE_ARN": machine_arn("export"),
    }


class PipelineStack(Stack):
    """State machines ``job_machine`` and ``export_machine`` and everything their steps run on.

    Deploy it after the storage stack, whose tables and buckets it uses by name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        storage = import_storage(self, config.table_prefix)
        environment = backend_environment(self, config, storage)
        cpu_image = pipeline_image(self, "CpuImage", CPU_TARGET)
        gpu_image = pipeline_image(self, "GpuImage", GPU_TARGET)

        self.steps = {
            name: self._step_function(name, handler, cpu_image, environment, config)
            for name, handler in STEP_HANDLERS.items()
        }
        for name, step_access in {**access.JOB_STEPS, **access.EXPORT_STEPS}.items():
            access.grant(self.steps[name], step_access, storage.tables, storage.blobs, storage.exports)

        self.segments = SegmentBatch(
            self,
            "Segments",
            config=config,
            cpu_image=cpu_image,
            gpu_image=gpu_image,
            environment=environment,
        )
        access.grant(self.segments.job_role, access.SEGMENT_JOB, storage.tables, storage.blobs, storage.exports)

        job_chain = workflow.job_definition(
            self,
            self.steps,
            gpu=self.segments.gpu,
            cpu=self.segments.cpu,
            segment_concurrency=config.segment_concurrency,
            segment_timeout_minutes=config.segment_timeout_minutes,
        )
        self.job_machine = self._state_machine("JobPipeline", "job", job_chain, Duration.hours(24), config)
        self.export_machine = self._state_machine(
            "ExportPipeline", "export", workflow.export_definition(self, self.steps), Duration.hours(2), config
        )

        self.job_alarm = self._failure_alarm("JobPipelineFailures", self.job_machine)
        self.export_alarm = self._failure_alarm("ExportPipelineFailures", self.export_machine)

        CfnOutput(self, "JobStateMachineArn", value=self.job_machine.state_machine_arn)
        CfnOutput(self, "ExportStateMachineArn", value=self.export_machine.state_machine_arn)
        CfnOutput(self, "SegmentJobLogGroup", value=self.segments.log_group.log_group_name)

    def _step_function(
        self,
        name: str,
        handler: str,
        image: ecr_assets.DockerImageAsset,
        environment: dict[str, str],
        config: DeployConfig,
    ) -> lambda_.DockerImageFunction:
        construct_id = "".join(part.title() for part in name.split("_"))
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=config.retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        code = lambda_.DockerImageCode.from_ecr(
            image.repository,
            tag_or_digest=image.image_tag,
            entrypoint=["python", "-m", "awslambdaric"],
            cmd=[handler],
        )
        return lambda_.DockerImageFunction(
            self,
            construct_id,
            code=code,
            description=f"framesieve pipeline step {name}",
            architecture=lambda_.Architecture.X86_64,
            memory_size=3008 if name in VIDEO_STEPS else 1024,
            ephemeral_storage_size=Size.mebibytes(10240 if name in VIDEO_STEPS else 512),
            timeout=Duration.minutes(15) if name in LONG_STEPS else Duration.minutes(2),
            # Lambda's file system is read-only outside /tmp, and onnxruntime
            # writes a cache under $HOME when imported.
            environment={**environment, "HOME": "/tmp"},
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            tracing=lambda_.Tracing.ACTIVE,
        )

    def _state_machine(
        self, construct_id: str, kind: str, chain: sfn.IChainable, timeout: Duration, config: DeployConfig
    ) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=config.retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        return sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=state_machine_name(config, kind),
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )

    def _failure_alarm(self, construct_id: str, machine: sfn.StateMachine) -> cloudwatch.Alarm:
        period = Duration.minutes(5)
        failed_or_timed_out = cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timed_out, 0)",
            using_metrics={
                "failed": machine.metric_failed(period=period, statistic="Sum"),
                "timed_out": machine.metric_timed_out(period=period, statistic="Sum"),
            },
            label="Failed or timed-out executions",
            period=period,
        )
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"An execution of {construct_id.removesuffix('Failures')} failed or timed out",
            metric=failed_or_timed_out,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
