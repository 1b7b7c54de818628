"""Record types and the store interface that each backend implements.

A store raises only the domain exceptions of :mod:`framesieve.errors`:
``RecordExists`` when a conditional create finds the key taken,
``RecordNotFound`` for a missing record, ``TransitionRejected`` when a
conditional update finds another state than expected, ``StorageError`` when
the backend itself fails. Records are plain dataclasses; adapters map them to
rows or items.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, fields
from enum import Enum


class JobStatus(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    FINISHED = "finished"
    FAILED = "failed"


class ExportStatus(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass
class ApiKey:
    """A customer's key; only the SHA-256 of the key is stored."""

    key_hash: str
    customer_id: str
    name: str
    created_at: float
    can_set: bool = True
    can_store: bool = True
    videos_left: int = 1000
    hours_left: float = 100.0


@dataclass
class Project:
    """A customer's project; ``settings`` contains per-project options such as the model cascade."""

    project_id: str
    customer_id: str
    project_name: str
    created_at: float
    settings: dict[str, object] = field(default_factory=dict)


@dataclass
class Tag:
    """A tag the project asked for; built-in tags are implied, not stored."""

    project_id: str
    name: str
    description: str
    created_at: float
    deleted: bool = False


@dataclass
class ModelVersion:
    version_name: str
    files: list[str]
    file_keys: list[str]
    status: str
    reason: str
    created_at: float
    config: dict = field(default_factory=dict)


@dataclass
class CustomModel:
    project_id: str
    model_name: str
    active_version: str | None
    versions: dict[str, ModelVersion]
    created_at: float


@dataclass
class Job:
    job_id: str
    project_id: str
    customer_id: str
    video_name: str
    video_url: str
    status: JobStatus
    created_at: float
    updated_at: float
    user_metadata: dict[str, str] = field(default_factory=dict)
    train: bool = False
    can_store: bool = True
    size_bytes: int = 0
    reason: str = ""
    frame_count: int = 0
    duration_seconds: float = 0.0
    frames_done: int = 0
    manifest_key: str = ""
    index_key: str = ""


@dataclass
class Export:
    export_id: str
    project_id: str
    customer_id: str
    name: str
    status: ExportStatus
    created_at: float
    filters: dict[str, list[str]]
    num_samples: int = 0
    json_key: str = ""
    tar_key: str = ""
    reason: str = ""


# Fields that identify a record or back a uniqueness rule; ``update_job`` and
# ``update_export`` reject changes to them.
JOB_FIXED_FIELDS = frozenset({"job_id", "project_id", "customer_id", "video_name", "created_at"})
EXPORT_FIXED_FIELDS = frozenset({"export_id", "project_id", "customer_id", "name", "created_at"})


def check_changes(record_type: type, changes: dict[str, object], fixed: frozenset[str]) -> None:
    """Raise ``ValueError`` for no changes, or a change to an unknown or fixed field of ``record_type``."""
    if not changes:
        raise ValueError(f"no changes given for {record_type.__name__}")

    known = {item.name for item in fields(record_type)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"{record_type.__name__} has no fields {unknown}")

    locked = sorted(set(changes) & fixed)
    if locked:
        raise ValueError(f"{record_type.__name__} fields {locked} cannot change after creation")


class RecordStore(abc.ABC):
    """Persistence for every record the API and the pipeline keep."""

    # API keys
    @abc.abstractmethod
    def put_api_key(self, key: ApiKey) -> None:
        """Create a key; ``RecordExists`` if the hash is taken."""

    @abc.abstractmethod
    def get_api_key(self, key_hash: str) -> ApiKey:
        """Return the key with this hash or raise ``RecordNotFound``."""

    @abc.abstractmethod
    def take_video_quota(self, key_hash: str) -> ApiKey:
        """Decrement ``videos_left`` if it and ``hours_left`` are positive.

        Raises ``TransitionRejected`` when the quota is spent, so two pushes
        racing for the last video cannot both pass.
        """

    @abc.abstractmethod
    def use_hours(self, key_hash: str, hours: float) -> None:
        """Subtract processed video hours from ``hours_left``."""

    # Projects
    @abc.abstractmethod
    def create_project(self, project: Project) -> None:
        """Create a project; ``RecordExists`` if the customer has one by that name."""

    @abc.abstractmethod
    def get_project(self, customer_id: str, project_name: str) -> Project:
        ...

    @abc.abstractmethod
    def list_projects(self, customer_id: str) -> list[Project]:
        """Projects of one customer, oldest first."""

    @abc.abstractmethod
    def update_project_settings(self, customer_id: str, project_name: str, settings: dict) -> Project:
        """Replace a project's settings; ``RecordNotFound`` if it does not exist."""

    # Tags
    @abc.abstractmethod
    def put_tag(self, tag: Tag) -> None:
        """Create or replace a requested tag."""

    @abc.abstractmethod
    def delete_tag(self, project_id: str, name: str) -> None:
        """Store the tag with ``deleted`` set, creating it if absent.

        A marker rather than a removal, so a built-in tag, which has no stored
        record, can be deleted too; ``list_tags`` returns markers as well.
        """

    @abc.abstractmethod
    def list_tags(self, project_id: str) -> list[Tag]:
        """Requested tags of a project, oldest first."""

    # Custom models
    @abc.abstractmethod
    def put_custom_model(self, model: CustomModel) -> None:
        """Create or replace a model with all its versions."""

    @abc.abstractmethod
    def get_custom_model(self, project_id: str, model_name: str) -> CustomModel:
        ...

    @abc.abstractmethod
    def list_custom_models(self, project_id: str) -> list[CustomModel]:
        ...

    # Jobs
    @abc.abstractmethod
    def create_job(self, job: Job) -> None:
        """Create a job; ``RecordExists`` if the project has the video name."""

    @abc.abstractmethod
    def get_job(self, job_id: str) -> Job:
        ...

    @abc.abstractmethod
    def list_jobs(self, project_id: str) -> list[Job]:
        """Jobs of a project, most recent first."""

    @abc.abstractmethod
    def list_jobs_by_status(self, statuses: list[JobStatus]) -> list[Job]:
        """Jobs in any of these states, across projects, oldest first."""

    @abc.abstractmethod
    def update_job(
        self,
        job_id: str,
        expected: list[JobStatus] | None = None,
        **changes: object,
    ) -> Job:
        """Apply ``changes`` if the job's status is one of ``expected``.

        ``updated_at`` is set to the current time unless ``changes`` sets it.
        Changing a field of ``JOB_FIXED_FIELDS`` raises ``ValueError``.
        Returns the updated job. Raises ``TransitionRejected`` when the status
        differs, so a retried pipeline step cannot move a job backwards.
        """

    def add_job_frames(self, job_id: str, frames: int) -> None:
        """Add ``frames`` to the job's ``frames_done`` progress counter.

        Segments finish concurrently, so adapters override this with an
        atomic increment. This fallback reads, then writes, so it may lose a
        count under contention. Only the progress figure is affected.
        """
        job = self.get_job(job_id)
        self.update_job(job_id, None, frames_done=job.frames_done + frames)

    # Exports
    @abc.abstractmethod
    def create_export(self, export: Export) -> None:
        """Create an export; ``RecordExists`` if the project has one by that name."""

    @abc.abstractmethod
    def get_export(self, export_id: str) -> Export:
        ...

    @abc.abstractmethod
    def list_exports(self, project_id: str) -> list[Export]:
        """Exports of a project, most recent first."""

    @abc.abstractmethod
    def update_export(
        self,
        export_id: str,
        expected: list[ExportStatus] | None = None,
        **changes: object,
    ) -> Export:
        """Conditional update, as :meth:`update_job`."""
