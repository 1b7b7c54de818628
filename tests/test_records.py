"""Contract tests for the record stores: SQLite on a temporary file and
DynamoDB through moto's in-process ``mock_aws`` (the only AWS stand-in)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from framesieve.errors import RecordExists, RecordNotFound, TransitionRejected
from framesieve.records.base import (
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
)
from framesieve.records.dynamo import DynamoRecordStore
from framesieve.records.sqlite import SqliteRecordStore

REGION = "us-east-1"


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 at fake credentials and no custom endpoint, so nothing reaches a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(params=["sqlite", "dynamo"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    if request.param == "sqlite":
        sqlite_store = SqliteRecordStore(tmp_path / "records.db")
        yield sqlite_store
        sqlite_store.close()
        return

    request.getfixturevalue("fake_aws_credentials")
    with mock_aws():
        dynamo_store = DynamoRecordStore("test", region=REGION)
        dynamo_store.create_tables()
        yield dynamo_store


def make_key(key_hash: str = "hash-1", **overrides: object) -> ApiKey:
    values: dict = dict(key_hash=key_hash, customer_id="cust-1", name="Alice", created_at=1000.0)
    values.update(overrides)
    return ApiKey(**values)


def make_job(job_id: str, created_at: float, project_id: str = "proj-1", **overrides: object) -> Job:
    values: dict = dict(
        job_id=job_id,
        project_id=project_id,
        customer_id="cust-1",
        video_name=f"video-{job_id}",
        video_url=f"https://example.com/{job_id}.mp4",
        status=JobStatus.QUEUED,
        created_at=created_at,
        updated_at=created_at,
    )
    values.update(overrides)
    return Job(**values)


def make_export(export_id: str, created_at: float, project_id: str = "proj-1", **overrides: object) -> Export:
    values: dict = dict(
        export_id=export_id,
        project_id=project_id,
        customer_id="cust-1",
        name=f"export-{export_id}",
        status=ExportStatus.QUEUED,
        created_at=created_at,
        filters={"blur": ["1", "2"], "people": ["true"]},
    )
    values.update(overrides)
    return Export(**values)


# API keys


def test_api_key_round_trip(store: RecordStore) -> None:
    key = make_key(can_set=False, can_store=True, videos_left=7, hours_left=2.5)
    store.put_api_key(key)

    assert store.get_api_key("hash-1") == key


def test_api_key_duplicate_hash_rejected(store: RecordStore) -> None:
    store.put_api_key(make_key())

    with pytest.raises(RecordExists):
        store.put_api_key(make_key(name="Mallory"))
    assert store.get_api_key("hash-1").name == "Alice"


def test_api_key_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.get_api_key("no-such-hash")


def test_video_quota_counts_down_then_rejects(store: RecordStore) -> None:
    store.put_api_key(make_key(videos_left=2, hours_left=1.0))

    assert store.take_video_quota("hash-1").videos_left == 1
    assert store.take_video_quota("hash-1").videos_left == 0
    with pytest.raises(TransitionRejected, match="quota"):
        store.take_video_quota("hash-1")
    assert store.get_api_key("hash-1").videos_left == 0


def test_video_quota_rejects_without_hours(store: RecordStore) -> None:
    store.put_api_key(make_key(videos_left=5, hours_left=0.0))

    with pytest.raises(TransitionRejected):
        store.take_video_quota("hash-1")
    assert store.get_api_key("hash-1").videos_left == 5


def test_video_quota_missing_key(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.take_video_quota("no-such-hash")


def test_use_hours_subtracts(store: RecordStore) -> None:
    store.put_api_key(make_key(hours_left=3.0))

    store.use_hours("hash-1", 0.75)
    store.use_hours("hash-1", 1.25)

    assert store.get_api_key("hash-1").hours_left == pytest.approx(1.0)


def test_use_hours_missing_key(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.use_hours("no-such-hash", 1.0)


# Projects


def test_project_round_trip_and_oldest_first(store: RecordStore) -> None:
    newer = Project(project_id="p-2", customer_id="cust-1", project_name="alpha", created_at=2000.0)
    older = Project(project_id="p-1", customer_id="cust-1", project_name="zulu", created_at=1000.0)
    other_customer = Project(project_id="p-3", customer_id="cust-2", project_name="mine", created_at=1500.0)
    for project in (newer, older, other_customer):
        store.create_project(project)

    assert store.get_project("cust-1", "alpha") == newer
    assert store.list_projects("cust-1") == [older, newer]
    assert store.list_projects("cust-2") == [other_customer]
    assert store.list_projects("cust-9") == []


def test_project_name_unique_per_customer(store: RecordStore) -> None:
    store.create_project(Project("p-1", "cust-1", "same", 1000.0))

    with pytest.raises(RecordExists, match="same"):
        store.create_project(Project("p-2", "cust-1", "same", 1001.0))
    store.create_project(Project("p-3", "cust-2", "same", 1002.0))

    assert store.get_project("cust-1", "same").project_id == "p-1"
    assert store.get_project("cust-2", "same").project_id == "p-3"


def test_project_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.get_project("cust-1", "nothing")


# Tags


def test_tags_put_replace_and_list(store: RecordStore) -> None:
    store.put_tag(Tag("proj-1", "weather", "sunny or rainy", 2000.0))
    store.put_tag(Tag("proj-1", "glare", "1-5 scale", 1000.0))
    store.put_tag(Tag("proj-2", "angle", "camera angle", 1500.0))
    store.put_tag(Tag("proj-1", "weather", "sunny, rainy or foggy", 2000.0))

    tags = store.list_tags("proj-1")

    assert [tag.name for tag in tags] == ["glare", "weather"]
    assert tags[1].description == "sunny, rainy or foggy"
    assert not any(tag.deleted for tag in tags)


def test_delete_tag_marks_existing(store: RecordStore) -> None:
    store.put_tag(Tag("proj-1", "glare", "1-5 scale", 1000.0))

    store.delete_tag("proj-1", "glare")

    [tag] = store.list_tags("proj-1")
    assert tag.deleted is True
    assert tag.description == "1-5 scale"
    assert tag.created_at == 1000.0


def test_delete_tag_marks_absent_builtin(store: RecordStore) -> None:
    store.delete_tag("proj-1", "blur")

    [tag] = store.list_tags("proj-1")
    assert tag.name == "blur"
    assert tag.deleted is True


def test_put_tag_undeletes(store: RecordStore) -> None:
    store.delete_tag("proj-1", "blur")
    store.put_tag(Tag("proj-1", "blur", "how blurry", 3000.0))

    [tag] = store.list_tags("proj-1")
    assert tag.deleted is False
    assert tag.description == "how blurry"


# Custom models


def make_model(name: str, created_at: float) -> CustomModel:
    version = ModelVersion(
        version_name="v1",
        files=["model.onnx", "labels.txt"],
        file_keys=["customers/c/projects/p/models/m/v1/000", "customers/c/projects/p/models/m/v1/001"],
        status="ready",
        reason="",
        created_at=created_at,
        config={"input_size": [224, 224], "threshold": 0.5},
    )
    return CustomModel("proj-1", name, "v1", {"v1": version}, created_at)


def test_custom_model_round_trip(store: RecordStore) -> None:
    model = make_model("detector", 1000.0)
    store.put_custom_model(model)

    loaded = store.get_custom_model("proj-1", "detector")

    assert loaded == model
    assert isinstance(loaded.versions["v1"], ModelVersion)


def test_custom_model_replace_and_list(store: RecordStore) -> None:
    store.put_custom_model(make_model("second", 2000.0))
    store.put_custom_model(make_model("first", 1000.0))
    replaced = make_model("first", 1000.0)
    replaced.versions["v2"] = dataclasses.replace(replaced.versions["v1"], version_name="v2", status="failed", reason="bad file")
    replaced.active_version = None
    store.put_custom_model(replaced)

    models = store.list_custom_models("proj-1")

    assert [model.model_name for model in models] == ["first", "second"]
    assert models[0] == replaced
    assert store.list_custom_models("proj-2") == []


def test_custom_model_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.get_custom_model("proj-1", "nothing")


# Jobs


def test_job_round_trip(store: RecordStore) -> None:
    job = make_job(
        "job-1",
        1000.5,
        user_metadata={"camera": "north gate", "route": "7"},
        train=True,
        can_store=False,
        size_bytes=8131690,
    )
    store.create_job(job)

    loaded = store.get_job("job-1")

    assert loaded == job
    assert loaded.status is JobStatus.QUEUED


def test_job_video_name_unique_per_project(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0, video_name="gate.mp4"))

    with pytest.raises(RecordExists, match="gate.mp4"):
        store.create_job(make_job("job-2", 1001.0, video_name="gate.mp4"))
    store.create_job(make_job("job-3", 1002.0, project_id="proj-2", video_name="gate.mp4"))

    with pytest.raises(RecordNotFound):
        store.get_job("job-2")
    assert store.get_job("job-3").project_id == "proj-2"


def test_job_duplicate_id_rejected(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0, video_name="a.mp4"))

    with pytest.raises(RecordExists, match="job-1"):
        store.create_job(make_job("job-1", 1001.0, video_name="b.mp4"))

    # The rejected job must not have claimed its name either.
    store.create_job(make_job("job-2", 1002.0, video_name="b.mp4"))
    assert store.get_job("job-1").video_name == "a.mp4"


def test_job_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.get_job("nothing")


def test_jobs_listed_newest_first(store: RecordStore) -> None:
    for job_id, created_at in (("job-b", 2000.0), ("job-c", 3000.0), ("job-a", 1000.0)):
        store.create_job(make_job(job_id, created_at))
    store.create_job(make_job("job-other", 2500.0, project_id="proj-2"))

    assert [job.job_id for job in store.list_jobs("proj-1")] == ["job-c", "job-b", "job-a"]
    assert [job.job_id for job in store.list_jobs("proj-2")] == ["job-other"]
    assert store.list_jobs("proj-9") == []


def test_jobs_by_status_oldest_first(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))
    store.create_job(make_job("job-2", 2000.0, project_id="proj-2"))
    store.create_job(make_job("job-3", 3000.0))
    store.create_job(make_job("job-4", 1500.0, project_id="proj-3"))
    store.update_job("job-3", expected=[JobStatus.QUEUED], status=JobStatus.PROCESSING)
    store.update_job("job-4", expected=[JobStatus.QUEUED], status=JobStatus.FINISHED)

    resumable = store.list_jobs_by_status([JobStatus.QUEUED, JobStatus.PROCESSING])

    assert [job.job_id for job in resumable] == ["job-1", "job-2", "job-3"]
    assert [job.job_id for job in store.list_jobs_by_status([JobStatus.FINISHED])] == ["job-4"]
    assert store.list_jobs_by_status([JobStatus.FAILED]) == []


def test_job_update_moves_forward(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))

    updated = store.update_job(
        "job-1",
        expected=[JobStatus.QUEUED],
        status=JobStatus.PROCESSING,
        frame_count=795,
        duration_seconds=79.5,
    )

    assert updated.status is JobStatus.PROCESSING
    assert updated.frame_count == 795
    assert updated.duration_seconds == 79.5
    assert updated.updated_at > 1000.0
    assert store.get_job("job-1") == updated


def test_job_update_accepts_status_string(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))

    updated = store.update_job("job-1", expected=[JobStatus.QUEUED], status="processing")

    assert updated.status is JobStatus.PROCESSING


def test_job_finished_cannot_return_to_processing(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))
    store.update_job("job-1", expected=[JobStatus.QUEUED], status=JobStatus.PROCESSING)
    store.update_job(
        "job-1", expected=[JobStatus.PROCESSING], status=JobStatus.FINISHED, manifest_key="m.json"
    )

    with pytest.raises(TransitionRejected, match="finished"):
        store.update_job(
            "job-1", expected=[JobStatus.QUEUED], status=JobStatus.PROCESSING, reason="retried"
        )

    job = store.get_job("job-1")
    assert job.status is JobStatus.FINISHED
    assert job.reason == ""
    assert job.manifest_key == "m.json"


def test_job_update_without_expected_is_unconditional(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))
    store.update_job("job-1", expected=[JobStatus.QUEUED], status=JobStatus.FAILED, reason="fetch failed")

    updated = store.update_job("job-1", frames_done=10, updated_at=5000.0)

    assert updated.status is JobStatus.FAILED
    assert updated.frames_done == 10
    assert updated.updated_at == 5000.0


def test_job_update_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.update_job("nothing", expected=[JobStatus.QUEUED], status=JobStatus.PROCESSING)
    with pytest.raises(RecordNotFound):
        store.update_job("nothing", frames_done=1)

    # A conditional update must not create the record it did not find.
    with pytest.raises(RecordNotFound):
        store.get_job("nothing")


def test_job_update_rejects_fixed_and_unknown_fields(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))

    with pytest.raises(ValueError, match="video_name"):
        store.update_job("job-1", video_name="other.mp4")
    with pytest.raises(ValueError, match="colour"):
        store.update_job("job-1", colour="red")
    assert store.get_job("job-1").video_name == "video-job-1"


def test_add_job_frames_accumulates(store: RecordStore) -> None:
    store.create_job(make_job("job-1", 1000.0))

    store.add_job_frames("job-1", 300)
    store.add_job_frames("job-1", 195)

    job = store.get_job("job-1")
    assert job.frames_done == 495
    assert job.updated_at > 1000.0


def test_add_job_frames_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.add_job_frames("nothing", 10)
    with pytest.raises(RecordNotFound):
        store.get_job("nothing")


# Exports


def test_export_round_trip_and_newest_first(store: RecordStore) -> None:
    older = make_export("exp-1", 1000.0)
    newer = make_export("exp-2", 2000.0, filters={})
    store.create_export(older)
    store.create_export(newer)
    store.create_export(make_export("exp-3", 3000.0, project_id="proj-2"))

    assert store.get_export("exp-1") == older
    assert store.list_exports("proj-1") == [newer, older]


def test_export_name_unique_per_project(store: RecordStore) -> None:
    store.create_export(make_export("exp-1", 1000.0, name="night"))

    with pytest.raises(RecordExists, match="night"):
        store.create_export(make_export("exp-2", 1001.0, name="night"))
    store.create_export(make_export("exp-3", 1002.0, project_id="proj-2", name="night"))

    assert [export.export_id for export in store.list_exports("proj-1")] == ["exp-1"]


def test_export_transitions(store: RecordStore) -> None:
    store.create_export(make_export("exp-1", 1000.0))
    store.update_export("exp-1", expected=[ExportStatus.QUEUED], status=ExportStatus.PROCESSING)

    done = store.update_export(
        "exp-1",
        expected=[ExportStatus.PROCESSING],
        status=ExportStatus.COMPLETE,
        num_samples=42,
        json_key="e/metadata.json",
        tar_key="e/frames.tar.gz",
    )

    assert done.status is ExportStatus.COMPLETE
    assert done.num_samples == 42
    with pytest.raises(TransitionRejected, match="complete"):
        store.update_export("exp-1", expected=[ExportStatus.PROCESSING], status=ExportStatus.FAILED)
    assert store.get_export("exp-1") == done


def test_export_missing(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.get_export("nothing")
    with pytest.raises(RecordNotFound):
        store.update_export("nothing", expected=[ExportStatus.QUEUED], status=ExportStatus.PROCESSING)


# SQLite only


def test_sqlite_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "records.db"
    first = SqliteRecordStore(path)
    first.put_api_key(make_key())
    first.create_project(Project("p-1", "cust-1", "demo", 1000.0))
    first.put_tag(Tag("p-1", "glare", "1-5 scale", 1000.0))
    first.put_custom_model(make_model("detector", 1000.0))
    first.create_job(make_job("job-1", 1000.0, project_id="p-1", user_metadata={"k": "v"}))
    first.update_job("job-1", expected=[JobStatus.QUEUED], status=JobStatus.PROCESSING)
    first.create_export(make_export("exp-1", 1000.0, project_id="p-1"))
    first.close()

    second = SqliteRecordStore(path)

    assert second.get_api_key("hash-1") == make_key()
    assert second.get_project("cust-1", "demo").project_id == "p-1"
    assert [tag.name for tag in second.list_tags("p-1")] == ["glare"]
    assert second.get_custom_model("proj-1", "detector") == make_model("detector", 1000.0)
    assert second.get_job("job-1").status is JobStatus.PROCESSING
    assert second.get_job("job-1").user_metadata == {"k": "v"}
    assert second.get_export("exp-1").filters == {"blur": ["1", "2"], "people": ["true"]}
    with pytest.raises(RecordExists):
        second.create_job(make_job("job-2", 2000.0, project_id="p-1", video_name="video-job-1"))
    second.close()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    SqliteRecordStore(tmp_path / "records.db").close()

    with sqlite3.connect(tmp_path / "records.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_sqlite_quota_race_takes_exact_count(tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "records.db")
    store.put_api_key(make_key(videos_left=25))
    granted: list[int] = []
    rejected: list[int] = []

    def push(index: int) -> None:
        for _ in range(10):
            try:
                store.take_video_quota("hash-1")
                granted.append(index)
            except TransitionRejected:
                rejected.append(index)

    run_threads(8, push)

    assert len(granted) == 25
    assert len(rejected) == 80 - 25
    assert store.get_api_key("hash-1").videos_left == 0


def test_sqlite_transition_race_has_one_winner(tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "records.db")
    for number in range(20):
        store.create_job(make_job(f"job-{number}", 1000.0 + number))
    winners: dict[str, list[int]] = {f"job-{number}": [] for number in range(20)}

    def claim(index: int) -> None:
        for number in range(20):
            try:
                store.update_job(f"job-{number}", expected=[JobStatus.QUEUED], status=JobStatus.PROCESSING)
                winners[f"job-{number}"].append(index)
            except TransitionRejected:
                pass

    run_threads(6, claim)

    assert all(len(claimed) == 1 for claimed in winners.values()), winners
    assert {job.status for job in store.list_jobs("proj-1")} == {JobStatus.PROCESSING}


def test_sqlite_concurrent_creates_keep_names_unique(tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "records.db")
    created: list[int] = []

    def create(index: int) -> None:
        try:
            store.create_job(make_job(f"job-{index}", 1000.0 + index, video_name="same.mp4"))
            created.append(index)
        except RecordExists:
            pass

    run_threads(8, create)

    assert len(created) == 1
    assert [job.job_id for job in store.list_jobs("proj-1")] == [f"job-{created[0]}"]


def test_sqlite_concurrent_frame_counts_add_up(tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "records.db")
    store.create_job(make_job("job-1", 1000.0))

    def add(index: int) -> None:
        for _ in range(50):
            store.add_job_frames("job-1", 3)

    run_threads(8, add)

    assert store.get_job("job-1").frames_done == 8 * 50 * 3


# DynamoDB only


@pytest.fixture
def dynamo_store(fake_aws_credentials: None) -> Iterator[DynamoRecordStore]:
    with mock_aws():
        dynamo = DynamoRecordStore("shape", region=REGION)
        dynamo.create_tables()
        yield dynamo


def describe(table_name: str) -> dict:
    return boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table_name)["Table"]


def key_schema(schema: list[dict]) -> list[tuple[str, str]]:
    return [(entry["AttributeName"], entry["KeyType"]) for entry in schema]


def test_dynamo_tables_match_design(dynamo_store: DynamoRecordStore) -> None:
    expected_keys = {
        "shape-api-keys": [("key_hash", "HASH")],
        "shape-projects": [("customer_id", "HASH"), ("project_name", "RANGE")],
        "shape-tags": [("project_id", "HASH"), ("name", "RANGE")],
        "shape-custom-models": [("project_id", "HASH"), ("model_name", "RANGE")],
        "shape-jobs": [("job_id", "HASH")],
        "shape-exports": [("export_id", "HASH")],
        "shape-names": [("scope", "HASH"), ("name", "RANGE")],
    }
    expected_indexes = {
        "shape-projects": {"by-project-id": [("project_id", "HASH")]},
        "shape-jobs": {
            "by-project": [("project_id", "HASH"), ("created_at", "RANGE")],
            "by-status": [("status", "HASH"), ("created_at", "RANGE")],
        },
        "shape-exports": {"by-project": [("project_id", "HASH"), ("created_at", "RANGE")]},
    }

    for table_name, keys in expected_keys.items():
        table = describe(table_name)
        assert key_schema(table["KeySchema"]) == keys, table_name
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", table_name
        indexes = {index["IndexName"]: key_schema(index["KeySchema"]) for index in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == expected_indexes.get(table_name, {}), table_name

    jobs_types = {item["AttributeName"]: item["AttributeType"] for item in describe("shape-jobs")["AttributeDefinitions"]}
    assert jobs_types["created_at"] == "N"


def test_dynamo_names_table_records_claims(dynamo_store: DynamoRecordStore) -> None:
    dynamo_store.create_job(make_job("job-1", 1000.0, video_name="gate.mp4"))
    dynamo_store.create_export(make_export("exp-1", 1000.0, name="night"))

    table = boto3.resource("dynamodb", region_name=REGION).Table("shape-names")
    video_claim = table.get_item(Key={"scope": "video#proj-1", "name": "gate.mp4"})["Item"]
    export_claim = table.get_item(Key={"scope": "export#proj-1", "name": "night"})["Item"]

    assert video_claim["record_id"] == "job-1"
    assert export_claim["record_id"] == "exp-1"


def test_dynamo_lists_never_scan(dynamo_store: DynamoRecordStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from pynamodb.connection.base import Connection

    def scan_forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the DynamoDB record store issued a Scan")

    monkeypatch.setattr(Connection, "scan", scan_forbidden)
    dynamo_store.create_project(Project("p-1", "cust-1", "demo", 1000.0))
    dynamo_store.create_job(make_job("job-1", 1000.0))
    dynamo_store.create_export(make_export("exp-1", 1000.0))
    dynamo_store.put_tag(Tag("proj-1", "glare", "1-5", 1000.0))
    dynamo_store.put_custom_model(make_model("detector", 1000.0))

    assert len(dynamo_store.list_projects("cust-1")) == 1
    assert len(dynamo_store.list_jobs("proj-1")) == 1
    assert len(dynamo_store.list_jobs_by_status([JobStatus.QUEUED])) == 1
    assert len(dynamo_store.list_exports("proj-1")) == 1
    assert len(dynamo_store.list_tags("proj-1")) == 1
    assert len(dynamo_store.list_custom_models("proj-1")) == 1


def test_dynamo_missing_table_is_storage_error(fake_aws_credentials: None) -> None:
    from framesieve.errors import StorageError

    with mock_aws():
        absent = DynamoRecordStore("absent", region=REGION)

        with pytest.raises(StorageError):
            absent.get_job("job-1")
        with pytest.raises(StorageError):
            absent.create_job(make_job("job-1", 1000.0))
