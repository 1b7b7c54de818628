"""The API stack: the Chalice app on Lambda behind an API Gateway REST API.

The Lambda handler is ``framesieve.api.lambda_handler``: it hands API
Gateway's ``{proxy+}`` events to the Chalice app with the request path as
the route, because Chalice routes on the resource path, which a proxy
resource does not name. Routes begin with ``/v1``, so the stage URL plus
``v1/<endpoint>`` reaches each endpoint.

By default the function runs from the pipeline's CPU image, because the
API imports OpenCV, onnxruntime and PyArrow (custom model checks and frame
queries), which unpack to more than Lambda's 250 MB limit for a zip
function with its layers. With ``framesieve:api_code=layer`` it runs as a
zip with the dependency layer instead.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import access
from infra.assets import CPU_TARGET, function_code, layer_code, pipeline_image
from infra.config import DeployConfig
from infra.pipeline import PipelineStack, backend_environment
from infra.refs import import_storage

API_HANDLER = "framesieve.api.lambda_handler"
STAGE_NAME = "prod"
# API Gateway ends every integration after 29 s, so a longer Lambda timeout
# would only keep running after the client got a 504.
API_TIMEOUT = Duration.seconds(29)


class ApiStack(Stack):
    """``function`` serves every route of ``api``; ``api_url`` is the base URL clients use."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        pipeline: PipelineStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        storage = import_storage(self, config.table_prefix)

        function_logs = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=config.retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        common = {
            "description": "framesieve Sieve v1 API (Chalice)",
            "architecture": lambda_.Architecture.X86_64,
            "memory_size": 1024,
            "timeout": API_TIMEOUT,
            "log_group": function_logs,
            "logging_format": lambda_.LoggingFormat.JSON,
            "application_log_level_v2": lambda_.ApplicationLogLevel.INFO,
            "tracing": lambda_.Tracing.ACTIVE,
        }
        environment = backend_environment(self, config, storage)
        if config.api_code == "layer":
            self.function: lambda_.Function = lambda_.Function(
                self,
                "Function",
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler=API_HANDLER,
                code=function_code(),
                layers=[self._dependency_layer(config)],
                environment=environment,
                **common,
            )
        else:
            image = pipeline_image(self, "Image", CPU_TARGET)
            self.function = lambda_.DockerImageFunction(
                self,
                "Function",
                code=lambda_.DockerImageCode.from_ecr(
                    image.repository,
                    tag_or_digest=image.image_tag,
                    entrypoint=["python", "-m", "awslambdaric"],
                    cmd=[API_HANDLER],
                ),
                # Lambda's file system is read-only outside /tmp, and
                # onnxruntime writes a cache under $HOME when imported.
                environment={**environment, "HOME": "/tmp"},
                **common,
            )
        access.grant(self.function, access.API, storage.tables, storage.blobs, storage.exports)
        pipeline.job_machine.grant_start_execution(self.function)
        pipeline.export_machine.grant_start_execution(self.function)

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.api = apigateway.LambdaRestApi(
            self,
            "Api",
            handler=self.function,
            proxy=True,
            description="framesieve Sieve v1 API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Stage logging needs the account-wide API Gateway CloudWatch
            # role; this creates it, replacing any role set before.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                tracing_enabled=True,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
        )

        self.api_url = self.api.url
        CfnOutput(self, "ApiStageUrl", value=self.api.url, description="Stage URL; endpoints are at <this>v1/<endpoint>")
        CfnOutput(self, "ApiBaseUrl", value=f"{self.api.url}v1/", description="Base URL for Sieve v1 clients")
        CfnOutput(self, "ApiFunctionLogGroup", value=function_logs.log_group_name)

    def _dependency_layer(self, config: DeployConfig) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            "Dependencies",
            code=layer_code("api", config),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="framesieve API dependencies built by layers/build.py",
        )
