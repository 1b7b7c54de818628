"""Record stores: API keys, projects, tags, custom models, jobs and exports."""

from framesieve.records.base import (
    ApiKey,
    CustomModel,
    Export,
    Job,
    JobStatus,
    ExportStatus,
    ModelVersion,
    Project,
    RecordStore,
    Tag,
)

__all__ = [
    "ApiKey",
    "CustomModel",
    "Export",
    "ExportStatus",
    "Job",
    "JobStatus",
    "ModelVersion",
    "Project",
    "RecordStore",
    "Tag",
]
