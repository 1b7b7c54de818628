"""Record store on DynamoDB through PynamoDB, the AWS backend.

Every write that must not clobber another is conditional. Creates carry
``attribute_not_exists`` and status updates carry ``status IN (...)``. A job
or export is written in one transaction with the item that claims its name
in the ``names`` table, so two pushes of one video name cannot both
succeed. Every list is a Query on a key or an index, never a Scan. The
store raises only the domain exceptions of :mod:`framesieve.errors`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from framesieve.errors import RecordExists, RecordNotFound, StorageError, TransitionRejected
from framesieve.records.base import (
    EXPORT_FIXED_FIELDS,
    JOB_FIXED_FIELDS,
    ApiKey,
    CustomModel,
    Export,
    ExportStatus,
    Job,
    JobStatus,
    ModelVersion,
    Project,
    RecordStore,
    Tag,
    check_changes,
)
from framesieve.records.dynamo_models import Models, build_models

logger = logging.getLogger(__name__)

R = TypeVar("R")

_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CONDITION_FAILED = "ConditionalCheckFailed"


@functools.cache
def _field_types(record_type: type) -> dict[str, Any]:
    return typing.get_type_hints(record_type)


def _attributes(record: object) -> dict[str, object]:
    """Item attributes of a record; enums become their values."""
    values = dataclasses.asdict(record)
    return {name: value.value if isinstance(value, Enum) else value for name, value in values.items()}


def _record(record_type: type[R], item: Model) -> R:
    """Build a record from an item, restoring numbers, booleans and enums by field type."""
    values: dict[str, Any] = {}
    for name, hint in _field_types(record_type).items():
        value = getattr(item, name)
        # DynamoDB returns 100.0 as 100, so numbers take the field's type again.
        if name == "settings" and value is None:
            value = {}
        elif hint in (bool, int, float) and value is not None:
            value = hint(value)
        elif isinstance(hint, type) and issubclass(hint, Enum):
            value = hint(value)
        values[name] = value

    if record_type is CustomModel:
        values["versions"] = {name: ModelVersion(**data) for name, data in values["versions"].items()}
    return record_type(**values)


def _condition_failed(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == _CONDITION_FAILED


class DynamoRecordStore(RecordStore):
    def __init__(self, table_prefix: str, region: str | None = None, host: str | None = None) -> None:
        """Address the tables named ``{table_prefix}-...``; ``host`` overrides the endpoint."""
        self.table_prefix = table_prefix
        self.models: Models = build_models(table_prefix, region=region, host=host)
        self._region = region
        self._host = host
        self._transaction_connection: Connection | None = None

    def create_tables(self) -> None:
        """Create every table with its indexes, on-demand billing, and wait until active."""
        for model in self.models.all():
            with self._backend_errors(f"create table {model.Meta.table_name}"):
                model.create_table(wait=True)
            logger.info("created table %s", model.Meta.table_name)

    @contextmanager
    def _backend_errors(self, operation: str) -> Iterator[None]:
        """Turn PynamoDB and botocore failures that no caller handled into ``StorageError``."""
        try:
            yield
        except PynamoDBException as exc:
            message = exc.cause_response_message or str(exc)
            logger.error("DynamoDB %s failed: %s", operation, message)
            raise StorageError(f"{operation} failed: {message}") from exc

    def _transaction(self) -> TransactWrite:
        if self._transaction_connection is None:
            self._transaction_connection = Connection(region=self._region, host=self._host)
        return TransactWrite(connection=self._transaction_connection)

    def _get(self, model: type[Model], record_type: type[R], missing: str, *key: str) -> R:
        with self._backend_errors(f"get {record_type.__name__}"):
            try:
                item = model.get(*key, consistent_read=True)
            except DoesNotExist:
                raise RecordNotFound(missing) from None
        return _record(record_type, item)

    def _query(self, query: Any, record_type: type[R]) -> list[R]:
        with self._backend_errors(f"list {record_type.__name__}"):
            return [_record(record_type, item) for item in query]

    # API keys

    def put_api_key(self, key: ApiKey) -> None:
        model = self.models.api_keys
        with self._backend_errors("put API key"):
            try:
                model(**_attributes(key)).save(condition=model.key_hash.does_not_exist())
            except PynamoDBException as exc:
                if _condition_failed(exc):
                    raise RecordExists("an API key with this hash already exists") from exc
                raise
        logger.info("created API key for customer %s", key.customer_id)

    def get_api_key(self, key_hash: str) -> ApiKey:
        return self._get(self.models.api_keys, ApiKey, "API key not found", key_hash)

    def take_video_quota(self, key_hash: str) -> ApiKey:
        model = self.models.api_keys
        item = model(key_hash=key_hash)
        condition = model.key_hash.exists() & (model.videos_left > 0) & (model.hours_left > 0)
        with self._backend_errors("take video quota"):
            try:
                item.update(actions=[model.videos_left.add(-1)], condition=condition)
            except PynamoDBException as exc:
                if not _condition_failed(exc):
                    raise
                current = self.get_api_key(key_hash)
                raise TransitionRejected(
                    f"quota exhausted: {current.videos_left} videos and {current.hours_left:g} hours left"
                ) from exc

        key = _record(ApiKey, item)
        logger.debug("took video quota for customer %s, %d videos left", key.customer_id, key.videos_left)
        return key

    def use_hours(self, key_hash: str, hours: float) -> None:
        model = self.models.api_keys
        with self._backend_errors("use hours"):
            try:
                model(key_hash=key_hash).update(
                    actions=[model.hours_left.add(-hours)], condition=model.key_hash.exists()
                )
            except PynamoDBException as exc:
                if _condition_failed(exc):
                    raise RecordNotFound("API key not found") from exc
                raise
        logger.debug("charged %.4f video hours to key", hours)

    # Projects

    def create_project(self, project: Project) -> None:
        model = self.models.projects
        with self._backend_errors("create project"):
            try:
                model(**_attributes(project)).save(condition=model.customer_id.does_not_exist())
            except PynamoDBException as exc:
                if _condition_failed(exc):
                    raise RecordExists(f"project {project.project_name!r} already exists") from exc
                raise
        logger.info(
            "created project %s (%s) for customer %s", project.project_id, project.project_name, project.customer_id
        )

    def get_project(self, customer_id: str, project_name: str) -> Project:
        return self._get(
            self.models.projects, Project, f"project {project_name!r} not found", customer_id, project_name
        )

    def list_projects(self, customer_id: str) -> list[Project]:
        projects = self._query(self.models.projects.query(customer_id), Project)
        return sorted(projects, key=lambda project: project.created_at)

    # Tags

    def put_tag(self, tag: Tag) -> None:
        with self._backend_errors("put tag"):
            self.models.tags(**_attributes(tag)).save()
        logger.debug("stored tag %s in project %s", tag.name, tag.project_id)

    def delete_tag(self, project_id: str, name: str) -> None:
        model = self.models.tags
        actions = [
            model.deleted.set(True),
            model.description.set(model.description | ""),
            model.created_at.set(model.created_at | time.time()),
        ]
        with self._backend_errors("delete tag"):
            model(project_id=project_id, name=name).update(actions=actions)
        logger.debug("marked tag %s deleted in project %s", name, project_id)

    def list_tags(self, project_id: str) -> list[Tag]:
        tags = self._query(self.models.tags.query(project_id), Tag)
        return sorted(tags, key=lambda tag: tag.created_at)

    # Custom models

    def put_custom_model(self, model: CustomModel) -> None:
        with self._backend_errors("put custom model"):
            self.models.custom_models(**_attributes(model)).save()
        logger.debug("stored custom model %s in project %s", model.model_name, model.project_id)

    def get_custom_model(self, project_id: str, model_name: str) -> CustomModel:
        return self._get(
            self.models.custom_models,
            CustomModel,
            f"custom model {model_name!r} not found",
            project_id,
            model_name,
        )

    def list_custom_models(self, project_id: str) -> list[CustomModel]:
        models = self._query(self.models.custom_models.query(project_id), CustomModel)
        return sorted(models, key=lambda model: model.created_at)

    # Jobs

    def create_job(self, job: Job) -> None:
        self._create_named(
            self.models.jobs,
            self.models.jobs.job_id,
            _attributes(job),
            scope=f"video#{job.project_id}",
            name=job.video_name,
            record_id=job.job_id,
            kind="job",
            name_conflict=f"a video named {job.video_name!r} already exists in this project",
        )
        logger.info("created job %s for video %s in project %s", job.job_id, job.video_name, job.project_id)

    def get_job(self, job_id: str) -> Job:
        return self._get(self.models.jobs, Job, f"job {job_id} not found", job_id)

    def list_jobs(self, project_id: str) -> list[Job]:
        query = self.models.jobs.by_project.query(project_id, scan_index_forward=False)
        return self._query(query, Job)

    def list_jobs_by_status(self, statuses: list[JobStatus]) -> list[Job]:
        jobs: list[Job] = []
        for status in statuses:
            query = self.models.jobs.by_status.query(JobStatus(status).value)
            jobs.extend(self._query(query, Job))
        return sorted(jobs, key=lambda job: job.created_at)

    def update_job(
        self,
        job_id: str,
        expected: list[JobStatus] | None = None,
        **changes: object,
    ) -> Job:
        check_changes(Job, changes, JOB_FIXED_FIELDS)
        changes.setdefault("updated_at", time.time())
        if "status" in changes:
            changes["status"] = JobStatus(changes["status"])

        model = self.models.jobs
        item = model(job_id=job_id)
        self._update_conditionally(item, model.job_id, model.status, expected, changes, f"job {job_id}")
        logger.debug("updated job %s: %s", job_id, sorted(changes))
        return _record(Job, item)

    def update_project_settings(self, customer_id: str, project_name: str, settings: dict) -> Project:
        model = self.models.projects
        item = model(customer_id=customer_id, project_name=project_name)
        with self._backend_errors(f"update settings of project {project_name!r}"):
            try:
                item.update(actions=[model.settings.set(settings)], condition=model.project_name.exists())
            except PynamoDBException as exc:
                if _condition_failed(exc):
                    raise RecordNotFound(f"project {project_name!r} not found") from exc
                raise
        logger.debug("updated settings of project %s", project_name)
        return _record(Project, item)

    def add_job_frames(self, job_id: str, frames: int) -> None:
        model = self.models.jobs
        actions = [model.frames_done.add(frames), model.updated_at.set(time.time())]
        with self._backend_errors(f"add frames to job {job_id}"):
            try:
                model(job_id=job_id).update(actions=actions, condition=model.job_id.exists())
            except PynamoDBException as exc:
                if _condition_failed(exc):
                    raise RecordNotFound(f"job {job_id} not found") from exc
                raise
        logger.debug("added %d frames to job %s", frames, job_id)

    # Exports

    def create_export(self, export: Export) -> None:
        self._create_named(
            self.models.exports,
            self.models.exports.export_id,
            _attributes(export),
            scope=f"export#{export.project_id}",
            name=export.name,
            record_id=export.export_id,
            kind="export",
            name_conflict=f"an export named {export.name!r} already exists in this project",
        )
        logger.info("created export %s (%s) in project %s", export.export_id, export.name, export.project_id)

    def get_export(self, export_id: str) -> Export:
        return self._get(self.models.exports, Export, f"export {export_id} not found", export_id)

    def list_exports(self, project_id: str) -> list[Export]:
        query = self.models.exports.by_project.query(project_id, scan_index_forward=False)
        return self._query(query, Export)

    def update_export(
        self,
        export_id: str,
        expected: list[ExportStatus] | None = None,
        **changes: object,
    ) -> Export:
        check_changes(Export, changes, EXPORT_FIXED_FIELDS)
        if "status" in changes:
            changes["status"] = ExportStatus(changes["status"])

        model = self.models.exports
        item = model(export_id=export_id)
        self._update_conditionally(item, model.export_id, model.status, expected, changes, f"export {export_id}")
        logger.debug("updated export %s: %s", export_id, sorted(changes))
        return _record(Export, item)

    # Shared steps

    def _create_named(
        self,
        model: type[Model],
        key_attribute: Any,
        attributes: dict[str, object],
        *,
        scope: str,
        name: str,
        record_id: str,
        kind: str,
        name_conflict: str,
    ) -> None:
        """Write a record and the claim on its name in one transaction."""
        names = self.models.names
        claim = names(scope=scope, name=name, record_id=record_id)
        try:
            with self._transaction() as transaction:
                transaction.save(claim, condition=names.scope.does_not_exist())
                transaction.save(model(**attributes), condition=key_attribute.does_not_exist())
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons
            codes = [reason.code if reason is not None else None for reason in reasons]
            if codes and codes[0] == _TRANSACTION_CONDITION_FAILED:
                raise RecordExists(name_conflict) from exc
            if len(codes) > 1 and codes[1] == _TRANSACTION_CONDITION_FAILED:
                raise RecordExists(f"{kind} {record_id} already exists") from exc
            message = exc.cause_response_message or str(exc)
            logger.error("DynamoDB create %s %s failed: %s", kind, record_id, message)
            raise StorageError(f"create {kind} failed: {message}") from exc
        except PynamoDBException as exc:
            message = exc.cause_response_message or str(exc)
            logger.error("DynamoDB create %s %s failed: %s", kind, record_id, message)
            raise StorageError(f"create {kind} failed: {message}") from exc

    def _update_conditionally(
        self,
        item: Model,
        key_attribute: Any,
        status_attribute: Any,
        expected: list | None,
        changes: dict[str, object],
        label: str,
    ) -> None:
        """Apply ``changes`` to ``item`` if it exists and its status is expected; fills ``item``.

        The key condition keeps ``UpdateItem`` from creating a missing record.
        """
        model = type(item)
        actions = [
            getattr(model, name).set(value.value if isinstance(value, Enum) else value)
            for name, value in changes.items()
        ]
        condition = key_attribute.exists()
        allowed = [status.value if isinstance(status, Enum) else status for status in expected or []]
        if expected is not None:
            condition = condition & status_attribute.is_in(*allowed)

        with self._backend_errors(f"update {label}"):
            try:
                item.update(actions=actions, condition=condition)
            except PynamoDBException as exc:
                if not _condition_failed(exc):
                    raise
                try:
                    current = model.get(getattr(item, key_attribute.attr_name), consistent_read=True)
                except DoesNotExist:
                    raise RecordNotFound(f"{label} not found") from exc
                raise TransitionRejected(
                    f"{label} is {current.status}, expected one of: {', '.join(allowed)}"
                ) from exc
