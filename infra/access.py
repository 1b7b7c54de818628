"""IAM grants: which tables and blob prefixes each function and job role may use.

Every pipeline step gets its own role, and each role is granted only the
tables and key prefixes that step reads or writes. When a step starts to use
another table or prefix, add it to that step's ``Access`` here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

# Key patterns of framesieve.keys, with "*" for each id.
PROJECT = "customers/*/projects/*"
TRANSIT = f"{PROJECT}/transit/*"
VIDEOS = f"{PROJECT}/videos/*"
MODELS = f"{PROJECT}/models/*"
EXPORTS = f"{PROJECT}/exports/*"
ALL_CUSTOMERS = "customers/*"


@dataclass(frozen=True)
class Access:
    """Table suffixes and blob key patterns one role may use."""

    write_tables: tuple[str, ...] = ()
    read_tables: tuple[str, ...] = ()
    read_blobs: tuple[str, ...] = ()
    write_blobs: tuple[str, ...] = ()
    delete_blobs: tuple[str, ...] = ()
    read_exports: tuple[str, ...] = ()
    write_exports: tuple[str, ...] = ()
    delete_exports: tuple[str, ...] = ()


# The API serves every route, so it uses every table; it signs upload and
# download links, reads frame indexes and deletes what a customer deletes.
API = Access(
    write_tables=("api-keys", "projects", "tags", "custom-models", "jobs", "exports", "names"),
    read_blobs=(ALL_CUSTOMERS,),
    write_blobs=(ALL_CUSTOMERS,),
    delete_blobs=(ALL_CUSTOMERS,),
    read_exports=(EXPORTS,),
)

JOB_STEPS: dict[str, Access] = {
    "fetch_video": Access(write_tables=("jobs",), read_blobs=(TRANSIT,), write_blobs=(TRANSIT,)),
    "probe_and_plan": Access(
        write_tables=("jobs",),
        read_tables=("projects", "tags", "custom-models"),
        read_blobs=(TRANSIT,),
    ),
    "merge_segments": Access(write_tables=("jobs",), read_blobs=(VIDEOS,), write_blobs=(VIDEOS,)),
    # Removing a job's scratch files lists the prefix first, and listing
    # comes with the read grant.
    "finalize_job": Access(
        write_tables=("jobs", "api-keys"),
        read_blobs=(TRANSIT, VIDEOS),
        delete_blobs=(TRANSIT, VIDEOS),
    ),
    "fail_job": Access(
        write_tables=("jobs", "api-keys"),
        read_blobs=(TRANSIT, VIDEOS),
        delete_blobs=(TRANSIT, VIDEOS),
    ),
}

EXPORT_STEPS: dict[str, Access] = {
    # NOTE: framesieve.pipeline.export writes the tarball through the blob
    # store, so exports land in the blob bucket under EXPORTS and the export
    # bucket, with its expiry rule, stays unused until the export steps
    # write to FRAMESIEVE_AWS_EXPORT_BUCKET. Both grants stay until then.
    "build_export": Access(
        write_tables=("exports",),
        read_tables=("jobs", "projects", "tags"),
        read_blobs=(VIDEOS, EXPORTS),
        write_blobs=(EXPORTS,),
        read_exports=(EXPORTS,),
        write_exports=(EXPORTS,),
    ),
    "fail_export": Access(
        write_tables=("exports",),
        read_blobs=(EXPORTS,),
        delete_blobs=(EXPORTS,),
        read_exports=(EXPORTS,),
        delete_exports=(EXPORTS,),
    ),
}

# process_segment, run by AWS Batch: it reads the source video and the
# project's models and writes frames and one Parquet part per segment.
SEGMENT_JOB = Access(
    write_tables=("jobs",),
    read_tables=("projects", "tags", "custom-models"),
    read_blobs=(TRANSIT, MODELS),
    write_blobs=(VIDEOS,),
)


def grant(
    grantee: iam.IGrantable,
    access: Access,
    tables: dict[str, dynamodb.ITable],
    blobs: s3.IBucket,
    exports: s3.IBucket,
) -> None:
    """Add the statements ``access`` lists to ``grantee``'s policy."""
    for suffix in access.write_tables:
        tables[suffix].grant_read_write_data(grantee)
    for suffix in access.read_tables:
        tables[suffix].grant_read_data(grantee)

    for pattern in access.read_blobs:
        blobs.grant_read(grantee, pattern)
    for pattern in access.write_blobs:
        blobs.grant_put(grantee, pattern)
    for pattern in access.delete_blobs:
        blobs.grant_delete(grantee, pattern)

    for pattern in access.read_exports:
        exports.grant_read(grantee, pattern)
    for pattern in access.write_exports:
        exports.grant_put(grantee, pattern)
    for pattern in access.delete_exports:
        exports.grant_delete(grantee, pattern)
