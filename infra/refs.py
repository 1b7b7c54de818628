"""References to the storage stack's tables and buckets by name, for the other stacks.

The pipeline and API stacks address storage through names that
:mod:`infra.storage` fixes from the table prefix, the account and the
region, not through CloudFormation exports. So the storage stack can change
without breaking an export another stack imports, and every IAM resource
ARN reads the same in each synthesis, which lets the cdk-nag
acknowledgments name them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.tables import TABLES


def bucket_name(prefix: str, kind: str) -> str:
    """Bucket ``kind`` (``blobs``, ``exports`` or ``access-logs``) of a deployment: unique per account and region."""
    return f"{prefix}-{kind}-{Aws.ACCOUNT_ID}-{Aws.REGION}"


@dataclass(frozen=True)
class StorageRefs:
    """Tables keyed by suffix (``jobs``, ``api-keys``, ...) and the two data buckets."""

    tables: dict[str, dynamodb.ITable]
    blobs: s3.IBucket
    exports: s3.IBucket


def import_storage(scope: Construct, prefix: str) -> StorageRefs:
    """Reference the tables and buckets of the deployment with table prefix ``prefix``."""
    tables = {
        design.suffix: dynamodb.Table.from_table_attributes(
            scope,
            f"Table-{design.suffix}",
            table_name=design.table_name(prefix),
            global_indexes=[index.name for index in design.indexes] or None,
        )
        for design in TABLES
    }
    blobs = s3.Bucket.from_bucket_name(scope, "BlobsBucket", bucket_name(prefix, "blobs"))
    exports = s3.Bucket.from_bucket_name(scope, "ExportsBucket", bucket_name(prefix, "exports"))
    return StorageRefs(tables=tables, blobs=blobs, exports=exports)
