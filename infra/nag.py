"""cdk-nag acknowledgments, each for one exact finding and with the reason it does not apply.

cdk-nag 3 reports every wildcard of a policy as its own finding, such as
``AwsSolutions-IAM5[Resource::<arn>]``, and an acknowledgment covers only
the finding it names. The ones for S3 key patterns and table indexes are
derived from :mod:`infra.access`, so a grant added there is acknowledged
with the reason below, and any other new wildcard still fails the check.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from infra import access
from infra.api import ApiStack
from infra.pipeline import PipelineStack
from infra.storage import StorageStack
from infra.tables import TABLES

S3_KEY_PATTERN_REASON = (
    "The wildcards stand for customer, project and job ids in framesieve's fixed key layout, "
    "so the role reaches only the key prefix its step uses."
)
TABLE_INDEX_REASON = "Queries on a table's global secondary indexes need the table's index/* ARN; no other table is reached."
S3_ACTION_REASON = (
    "CDK's S3 grants use the object-level action groups (s3:GetObject*, s3:Abort*, ...), "
    "and every such statement is limited to one bucket's key pattern."
)
XRAY_REASON = "X-Ray's PutTraceSegments and PutTelemetryRecords accept only Resource '*'."
BASIC_EXECUTION_REASON = "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch log streams."


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge ``finding`` on ``scope`` and every construct below it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def suppress(storage: StorageStack, pipeline: PipelineStack, api: ApiStack) -> None:
    """Attach the acknowledgments to the three stacks."""
    acknowledge(
        storage.access_logs,
        "AwsSolutions-S1",
        "This bucket receives the other buckets' server access logs; logging it to itself would loop.",
    )
    _acknowledge_pipeline(pipeline, storage)
    _acknowledge_api(api, storage)


def _managed_policy(name: str) -> str:
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]"


def _wildcard(resource: str) -> str:
    return f"AwsSolutions-IAM5[Resource::{resource}]"


def _bucket_arn(bucket: str) -> str:
    # cdk-nag renders a pseudo parameter as <AWS::Name>; bucket names are
    # fixed by infra.refs.bucket_name as <prefix>-<kind>-<account>-<region>.
    return f"arn:<AWS::Partition>:s3:::{bucket}-<AWS::AccountId>-<AWS::Region>"


def _acknowledge_access(grantee: IConstruct, grants: access.Access, prefix: str) -> None:
    """Acknowledge the key-pattern and index wildcards that :func:`infra.access.grant` adds for ``grants``."""
    blob_patterns = {*grants.read_blobs, *grants.write_blobs, *grants.delete_blobs}
    export_patterns = {*grants.read_exports, *grants.write_exports, *grants.delete_exports}

    for pattern in sorted(blob_patterns):
        acknowledge(grantee, _wildcard(f"{_bucket_arn(f'{prefix}-blobs')}/{pattern}"), S3_KEY_PATTERN_REASON)
    for pattern in sorted(export_patterns):
        acknowledge(grantee, _wildcard(f"{_bucket_arn(f'{prefix}-exports')}/{pattern}"), S3_KEY_PATTERN_REASON)

    indexed = {design.suffix for design in TABLES if design.indexes}
    for suffix in sorted({*grants.write_tables, *grants.read_tables} & indexed):
        table_arn = f"arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/{prefix}-{suffix}"
        acknowledge(grantee, _wildcard(f"{table_arn}/index/*"), TABLE_INDEX_REASON)

    for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:Abort*", "s3:DeleteObject*"):
        acknowledge(grantee, f"AwsSolutions-IAM5[Action::{action}]", S3_ACTION_REASON)


def _acknowledge_function(function: lambda_.Function, grants: access.Access, prefix: str) -> None:
    role = function.role
    assert role is not None, f"{function.node.path} has no execution role"
    acknowledge(role, _managed_policy("service-role/AWSLambdaBasicExecutionRole"), BASIC_EXECUTION_REASON)
    acknowledge(role, _wildcard("*"), XRAY_REASON)
    _acknowledge_access(role, grants, prefix)


def _acknowledge_pipeline(stack: PipelineStack, storage: StorageStack) -> None:
    prefix = storage.table_prefix
    steps = {**access.JOB_STEPS, **access.EXPORT_STEPS}
    for name, function in stack.steps.items():
        _acknowledge_function(function, steps[name], prefix)

    _acknowledge_access(stack.segments.job_role, access.SEGMENT_JOB, prefix)
    acknowledge(
        stack.segments,
        _managed_policy("service-role/AmazonEC2ContainerServiceforEC2Role"),
        "AWS Batch's ECS container instances need the ECS agent policy that AWS maintains for them.",
    )
    acknowledge(
        stack.segments,
        _wildcard("*"),
        "ecr:GetAuthorizationToken, which the Fargate execution role needs to pull the image, accepts only Resource '*'.",
    )

    for machine, invoked in ((stack.job_machine, access.JOB_STEPS), (stack.export_machine, access.EXPORT_STEPS)):
        role: iam.IRole = machine.role
        acknowledge(
            role,
            _wildcard("*"),
            "CloudWatch Logs delivery for Step Functions and X-Ray tracing accept only Resource '*'.",
        )
        for name in invoked:
            logical_id = stack.get_logical_id(stack.steps[name].node.default_child)
            acknowledge(
                role,
                _wildcard(f"<{logical_id}.Arn>:*"),
                "The state machine invokes its own step function; the wildcard covers that function's versions and aliases.",
            )
    acknowledge(
        stack.job_machine.role,
        _wildcard("arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job-definition/*"),
        "CDK's Batch .sync task grants SubmitJob on job definitions by name pattern; the job queues are named exactly.",
    )


def _acknowledge_api(stack: ApiStack, storage: StorageStack) -> None:
    _acknowledge_function(stack.function, access.API, storage.table_prefix)
    acknowledge(
        stack.function,
        "AwsSolutions-L1",
        "layers/build.py builds the dependency layer for CPython 3.12; change the runtime and the layer build together.",
    )
    acknowledge(
        stack.api,
        _managed_policy("service-role/AmazonAPIGatewayPushToCloudWatchLogs"),
        "API Gateway's account-wide logging role needs the push policy AWS maintains for it.",
    )
    acknowledge(
        stack.api,
        "AwsSolutions-APIG2",
        "The Chalice app validates every request body and query parameter and answers in the Sieve v1 error format.",
    )
    acknowledge(
        stack.api,
        "AwsSolutions-APIG4",
        "Sieve v1 clients send an X-API-Key header, which the app checks against the api-keys table on every route.",
    )
    acknowledge(stack.api, "AwsSolutions-COG4", "Sieve v1 clients authenticate with API keys, not Cognito users.")
    acknowledge(
        stack.api,
        "AwsSolutions-APIG3",
        "No WAF web ACL by default, because one costs a monthly fee in every account; attach one to the stage where needed.",
    )
