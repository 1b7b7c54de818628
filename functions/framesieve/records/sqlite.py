"""Record store in one SQLite file, the embedded default.

One connection in WAL mode, shared by every thread and guarded by a lock:
the local server handles requests on threads and the worker pool runs jobs
concurrently, and SQLite serialises writers anyway. Uniqueness rules are
table constraints, and conditional updates are single ``UPDATE ... WHERE
status IN (...)`` statements, so two threads cannot both pass a check.
Dict and list fields are stored as JSON text.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sqlite3
import threading
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

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

logger = logging.getLogger(__name__)

R = TypeVar("R")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    can_set INTEGER NOT NULL,
    can_store INTEGER NOT NULL,
    videos_left INTEGER NOT NULL,
    hours_left REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    project_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    project_name TEXT NOT NULL,
    created_at REAL NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    UNIQUE (customer_id, project_name)
);
CREATE TABLE IF NOT EXISTS tags (
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at REAL NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
);
CREATE TABLE IF NOT EXISTS custom_models (
    project_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    active_version TEXT,
    versions TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (project_id, model_name)
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    video_name TEXT NOT NULL,
    video_url TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    user_metadata TEXT NOT NULL,
    train INTEGER NOT NULL,
    can_store INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    reason TEXT NOT NULL,
    frame_count INTEGER NOT NULL,
    duration_seconds REAL NOT NULL,
    frames_done INTEGER NOT NULL,
    manifest_key TEXT NOT NULL,
    index_key TEXT NOT NULL,
    UNIQUE (project_id, video_name)
);
CREATE INDEX IF NOT EXISTS jobs_by_project ON jobs (project_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
CREATE TABLE IF NOT EXISTS exports (
    export_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    filters TEXT NOT NULL,
    num_samples INTEGER NOT NULL,
    json_key TEXT NOT NULL,
    tar_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX IF NOT EXISTS exports_by_project ON exports (project_id, created_at);
"""


def _column_value(value: object) -> object:
    """Convert one field value to what SQLite stores."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _to_row(record: object) -> dict[str, object]:
    # asdict turns nested ModelVersion records into plain dicts for JSON.
    return {name: _column_value(value) for name, value in dataclasses.asdict(record).items()}


@functools.cache
def _field_types(record_type: type) -> dict[str, Any]:
    return typing.get_type_hints(record_type)


def _from_row(record_type: type[R], row: sqlite3.Row) -> R:
    """Build a record from a row, decoding JSON, booleans and enums by field type."""
    hints = _field_types(record_type)
    values: dict[str, Any] = {}
    for name in row.keys():
        value = row[name]
        hint = hints[name]
        origin = typing.get_origin(hint)
        if origin in (dict, list):
            value = json.loads(value)
        elif hint in (bool, int, float):
            # RETURNING rows skip column affinity in SQLite 3.40 (an INTEGER
            # column can come back as 3.0), so numbers are coerced here.
            value = hint(value)
        elif isinstance(hint, type) and issubclass(hint, Enum):
            value = hint(value)
        values[name] = value

    if record_type is CustomModel:
        values["versions"] = {name: ModelVersion(**data) for name, data in values["versions"].items()}
    return record_type(**values)


class SqliteRecordStore(RecordStore):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()

        try:
            # isolation_level=None leaves each statement its own transaction;
            # the few multi-statement steps open one explicitly.
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            # Databases made before projects had settings get the column here.
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(projects)")}
            if "settings" not in columns:
                self._db.execute("ALTER TABLE projects ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StorageError(f"could not open record database {self.path}: {exc}") from exc
        logger.info("opened record database %s", self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _cursor(self, operation: str) -> Iterator[sqlite3.Connection]:
        """Hold the lock and turn SQLite errors into domain errors."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.IntegrityError as exc:
                raise RecordExists(f"{operation}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StorageError(f"{operation} failed: {exc}") from exc

    def _insert(self, table: str, record: object, conflict: str, key_column: str | None = None) -> None:
        """Insert a row; ``conflict`` describes a unique-name clash, ``key_column`` names the id column."""
        row = _to_row(record)
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        with self._lock:
            try:
                self._db.execute(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", row)
            except sqlite3.IntegrityError as exc:
                if key_column is not None and str(exc).endswith(f"{table}.{key_column}"):
                    raise RecordExists(f"{key_column} {row[key_column]} already exists") from exc
                raise RecordExists(conflict) from exc
            except sqlite3.Error as exc:
                raise StorageError(f"could not insert into {table}: {exc}") from exc

    def _upsert(self, table: str, record: object) -> None:
        row = _to_row(record)
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        with self._cursor(f"replace in {table}") as db:
            db.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({placeholders})", row)

    def _select_one(self, record_type: type[R], sql: str, params: tuple, missing: str) -> R:
        with self._cursor(missing) as db:
            row = db.execute(sql, params).fetchone()
        if row is None:
            raise RecordNotFound(missing)
        return _from_row(record_type, row)

    def _select_all(self, record_type: type[R], sql: str, params: tuple) -> list[R]:
        with self._cursor(f"list {record_type.__name__}") as db:
            rows = db.execute(sql, params).fetchall()
        return [_from_row(record_type, row) for row in rows]

    # API keys

    def put_api_key(self, key: ApiKey) -> None:
        self._insert("api_keys", key, "an API key with this hash already exists")
        logger.info("created API key for customer %s", key.customer_id)

    def get_api_key(self, key_hash: str) -> ApiKey:
        return self._select_one(
            ApiKey, "SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,), "API key not found"
        )

    def take_video_quota(self, key_hash: str) -> ApiKey:
        with self._cursor("take video quota") as db:
            row = db.execute(
                "UPDATE api_keys SET videos_left = videos_left - 1"
                " WHERE key_hash = ? AND videos_left > 0 AND hours_left > 0 RETURNING *",
                (key_hash,),
            ).fetchone()
        if row is not None:
            key = _from_row(ApiKey, row)
            logger.debug("took video quota for customer %s, %d videos left", key.customer_id, key.videos_left)
            return key

        current = self.get_api_key(key_hash)
        raise TransitionRejected(
            f"quota exhausted: {current.videos_left} videos and {current.hours_left:g} hours left"
        )

    def use_hours(self, key_hash: str, hours: float) -> None:
        with self._cursor("use hours") as db:
            updated = db.execute(
                "UPDATE api_keys SET hours_left = hours_left - ? WHERE key_hash = ?", (hours, key_hash)
            ).rowcount
        if updated == 0:
            raise RecordNotFound("API key not found")
        logger.debug("charged %.4f video hours to key", hours)

    # Projects

    def create_project(self, project: Project) -> None:
        self._insert("projects", project, f"project {project.project_name!r} already exists")
        logger.info("created project %s (%s) for customer %s", project.project_id, project.project_name, project.customer_id)

    def get_project(self, customer_id: str, project_name: str) -> Project:
        return self._select_one(
            Project,
            "SELECT * FROM projects WHERE customer_id = ? AND project_name = ?",
            (customer_id, project_name),
            f"project {project_name!r} not found",
        )

    def update_project_settings(self, customer_id: str, project_name: str, settings: dict) -> Project:
        with self._cursor(f"update settings of project {project_name!r}") as db:
            row = db.execute(
                "UPDATE projects SET settings = ? WHERE customer_id = ? AND project_name = ? RETURNING *",
                (json.dumps(settings, sort_keys=True), customer_id, project_name),
            ).fetchone()
        if row is None:
            raise RecordNotFound(f"project {project_name!r} not found")
        logger.debug("updated settings of project %s", project_name)
        return _from_row(Project, row)

    def list_projects(self, customer_id: str) -> list[Project]:
        return self._select_all(
            Project,
            "SELECT * FROM projects WHERE customer_id = ? ORDER BY created_at, rowid",
            (customer_id,),
        )

    # Tags

    def put_tag(self, tag: Tag) -> None:
        self._upsert("tags", tag)
        logger.debug("stored tag %s in project %s", tag.name, tag.project_id)

    def delete_tag(self, project_id: str, name: str) -> None:
        with self._cursor("delete tag") as db:
            db.execute(
                "INSERT INTO tags (project_id, name, description, created_at, deleted) VALUES (?, ?, '', ?, 1)"
                " ON CONFLICT (project_id, name) DO UPDATE SET deleted = 1",
                (project_id, name, time.time()),
            )
        logger.debug("marked tag %s deleted in project %s", name, project_id)

    def list_tags(self, project_id: str) -> list[Tag]:
        return self._select_all(
            Tag, "SELECT * FROM tags WHERE project_id = ? ORDER BY created_at, rowid", (project_id,)
        )

    # Custom models

    def put_custom_model(self, model: CustomModel) -> None:
        self._upsert("custom_models", model)
        logger.debug("stored custom model %s in project %s", model.model_name, model.project_id)

    def get_custom_model(self, project_id: str, model_name: str) -> CustomModel:
        return self._select_one(
            CustomModel,
            "SELECT * FROM custom_models WHERE project_id = ? AND model_name = ?",
            (project_id, model_name),
            f"custom model {model_name!r} not found",
        )

    def list_custom_models(self, project_id: str) -> list[CustomModel]:
        return self._select_all(
            CustomModel,
            "SELECT * FROM custom_models WHERE project_id = ? ORDER BY created_at, rowid",
            (project_id,),
        )

    # Jobs

    def create_job(self, job: Job) -> None:
        self._insert("jobs", job, f"a video named {job.video_name!r} already exists in this project", "job_id")
        logger.info("created job %s for video %s in project %s", job.job_id, job.video_name, job.project_id)

    def get_job(self, job_id: str) -> Job:
        return self._select_one(Job, "SELECT * FROM jobs WHERE job_id = ?", (job_id,), f"job {job_id} not found")

    def list_jobs(self, project_id: str) -> list[Job]:
        return self._select_all(
            Job, "SELECT * FROM jobs WHERE project_id = ? ORDER BY created_at DESC, rowid DESC", (project_id,)
        )

    def list_jobs_by_status(self, statuses: list[JobStatus]) -> list[Job]:
        if not statuses:
            return []
        placeholders = ", ".join("?" for _ in statuses)
        return self._select_all(
            Job,
            f"SELECT * FROM jobs WHERE status IN ({placeholders}) ORDER BY created_at, rowid",
            tuple(JobStatus(status).value for status in statuses),
        )

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

        job = self._update_conditionally(Job, "jobs", "job_id", job_id, expected, changes)
        logger.debug("updated job %s: %s", job_id, sorted(changes))
        return job

    def add_job_frames(self, job_id: str, frames: int) -> None:
        with self._cursor(f"add frames to job {job_id}") as db:
            updated = db.execute(
                "UPDATE jobs SET frames_done = frames_done + ?, updated_at = ? WHERE job_id = ?",
                (frames, time.time(), job_id),
            ).rowcount
        if updated == 0:
            raise RecordNotFound(f"job {job_id} not found")
        logger.debug("added %d frames to job %s", frames, job_id)

    # Exports

    def create_export(self, export: Export) -> None:
        self._insert("exports", export, f"an export named {export.name!r} already exists in this project", "export_id")
        logger.info("created export %s (%s) in project %s", export.export_id, export.name, export.project_id)

    def get_export(self, export_id: str) -> Export:
        return self._select_one(
            Export, "SELECT * FROM exports WHERE export_id = ?", (export_id,), f"export {export_id} not found"
        )

    def list_exports(self, project_id: str) -> list[Export]:
        return self._select_all(
            Export, "SELECT * FROM exports WHERE project_id = ? ORDER BY created_at DESC, rowid DESC", (project_id,)
        )

    def update_export(
        self,
        export_id: str,
        expected: list[ExportStatus] | None = None,
        **changes: object,
    ) -> Export:
        check_changes(Export, changes, EXPORT_FIXED_FIELDS)
        if "status" in changes:
            changes["status"] = ExportStatus(changes["status"])

        export = self._update_conditionally(Export, "exports", "export_id", export_id, expected, changes)
        logger.debug("updated export %s: %s", export_id, sorted(changes))
        return export

    def _update_conditionally(
        self,
        record_type: type[R],
        table: str,
        key_column: str,
        key: str,
        expected: list | None,
        changes: dict[str, object],
    ) -> R:
        """Apply ``changes`` in one statement whose WHERE clause checks the status.

        Column names come from the record's fields (``check_changes`` ran), so
        building the statement from them cannot inject SQL.
        """
        kind = record_type.__name__.lower()
        params: list[object] = [_column_value(value) for value in changes.values()]
        assignments = ", ".join(f"{name} = ?" for name in changes)
        sql = f"UPDATE {table} SET {assignments} WHERE {key_column} = ?"
        params.append(key)
        if expected is not None:
            sql += f" AND status IN ({', '.join('?' for _ in expected)})"
            params.extend(_column_value(status) for status in expected)
        sql += " RETURNING *"

        with self._cursor(f"update {kind} {key}") as db:
            row = db.execute(sql, params).fetchone()
            if row is None:
                current = db.execute(f"SELECT status FROM {table} WHERE {key_column} = ?", (key,)).fetchone()
        if row is not None:
            return _from_row(record_type, row)

        if current is None:
            raise RecordNotFound(f"{kind} {key} not found")
        allowed = ", ".join(_column_value(status) for status in expected or [])
        raise TransitionRejected(f"{kind} {key} is {current['status']}, expected one of: {allowed}")
