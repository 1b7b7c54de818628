"""The storage stack: record tables and the blob, export and access-log buckets.

Tables and the two data buckets are retained when the stack is deleted, so
``cdk destroy`` leaves customer data in place. The access-log bucket goes
with the stack, but CloudFormation deletes it only when it is empty.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import DeployConfig
from infra.refs import bucket_name
from infra.tables import TABLES, Key, TableDesign

# Source videos are kept under customers/*/projects/*/transit/ until their
# job ends. The S3 blob store must tag each one with this key and value when
# it writes it, so the lifecycle rule can expire videos a failed job left.
TRANSIT_TAG_KEY = "framesieve-transit"
TRANSIT_TAG_VALUE = "true"


def _attribute(key: Key) -> dynamodb.Attribute:
    kinds = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
    return dynamodb.Attribute(name=key.name, type=kinds[key.kind])


class StorageStack(Stack):
    """Record tables keyed by their suffix (``jobs``, ``api-keys``, ...) and three buckets."""

    def __init__(self, scope: Construct, construct_id: str, config: DeployConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.table_prefix = config.table_prefix
        self.tables: dict[str, dynamodb.Table] = {
            design.suffix: self._table(design, config.table_prefix) for design in TABLES
        }

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(config.table_prefix, "access-logs"),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(config.access_log_expiry_days))
            ],
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.blobs = self._data_bucket(
            "Blobs",
            bucket_name(config.table_prefix, "blobs"),
            "blobs/",
            [
                # S3 lifecycle filters match a literal key prefix, and transit
                # keys (customers/*/projects/*/transit/) have none, so the
                # rule selects them by the object tag the fetch step writes.
                s3.LifecycleRule(
                    id="expire-transit-videos",
                    tag_filters={TRANSIT_TAG_KEY: TRANSIT_TAG_VALUE},
                    expiration=Duration.days(config.transit_expiry_days),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
        )

        self.exports = self._data_bucket(
            "Exports",
            bucket_name(config.table_prefix, "exports"),
            "exports/",
            [
                s3.LifecycleRule(
                    id="expire-exports",
                    expiration=Duration.days(config.export_expiry_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

    def _table(self, design: TableDesign, prefix: str) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"Table-{design.suffix}",
            table_name=design.table_name(prefix),
            partition_key=_attribute(design.partition),
            sort_key=_attribute(design.sort) if design.sort else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in design.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition),
                sort_key=_attribute(index.sort) if index.sort else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _data_bucket(self, construct_id: str, name: str, log_prefix: str, rules: list[s3.LifecycleRule]) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=rules,
            removal_policy=RemovalPolicy.RETAIN,
        )
