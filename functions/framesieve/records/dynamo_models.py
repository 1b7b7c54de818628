"""PynamoDB models for the DynamoDB record store, built per table prefix.

PynamoDB reads the table name from ``Meta.table_name`` on the class, so a
store needs its own classes to address its own tables: :func:`build_models`
creates a fresh set for one prefix, region and endpoint. Fresh classes also
start with no cached ``Model._connection``, so a new endpoint is honoured.

The CDK stacks create exactly these tables, keys and indexes; change both
together. Every table bills on demand and every index projects all
attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

BILLING_MODE = "PAY_PER_REQUEST"


@dataclass(frozen=True)
class Models:
    """The model classes of one store, one per table."""

    api_keys: type[Model]
    projects: type[Model]
    tags: type[Model]
    custom_models: type[Model]
    jobs: type[Model]
    exports: type[Model]
    names: type[Model]

    def all(self) -> list[type[Model]]:
        return [
            self.api_keys,
            self.projects,
            self.tags,
            self.custom_models,
            self.jobs,
            self.exports,
            self.names,
        ]


def table_names(prefix: str) -> dict[str, str]:
    """Table name of each model, keyed by the :class:`Models` field."""
    return {
        "api_keys": f"{prefix}-api-keys",
        "projects": f"{prefix}-projects",
        "tags": f"{prefix}-tags",
        "custom_models": f"{prefix}-custom-models",
        "jobs": f"{prefix}-jobs",
        "exports": f"{prefix}-exports",
        "names": f"{prefix}-names",
    }


def build_models(prefix: str, region: str | None = None, host: str | None = None) -> Models:
    """Create the model classes for the tables named from ``prefix``."""
    names = table_names(prefix)

    def meta(table: str) -> type:
        return type("Meta", (), {"table_name": table, "region": region, "host": host, "billing_mode": BILLING_MODE})

    class ApiKeyItem(Model):
        Meta = meta(names["api_keys"])

        key_hash = UnicodeAttribute(hash_key=True)
        customer_id = UnicodeAttribute()
        name = UnicodeAttribute()
        created_at = NumberAttribute()
        can_set = BooleanAttribute()
        can_store = BooleanAttribute()
        videos_left = NumberAttribute()
        hours_left = NumberAttribute()

    class ProjectIdIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-project-id"
            projection = AllProjection()

        project_id = UnicodeAttribute(hash_key=True)

    class ProjectItem(Model):
        Meta = meta(names["projects"])

        customer_id = UnicodeAttribute(hash_key=True)
        project_name = UnicodeAttribute(range_key=True)
        project_id = UnicodeAttribute()
        created_at = NumberAttribute()
        settings = JSONAttribute(null=True)
        by_project_id = ProjectIdIndex()

    class TagItem(Model):
        Meta = meta(names["tags"])

        project_id = UnicodeAttribute(hash_key=True)
        name = UnicodeAttribute(range_key=True)
        description = UnicodeAttribute()
        created_at = NumberAttribute()
        deleted = BooleanAttribute()

    class CustomModelItem(Model):
        Meta = meta(names["custom_models"])

        project_id = UnicodeAttribute(hash_key=True)
        model_name = UnicodeAttribute(range_key=True)
        active_version = UnicodeAttribute(null=True)
        versions = JSONAttribute()
        created_at = NumberAttribute()

    class JobsByProjectIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-project"
            projection = AllProjection()

        project_id = UnicodeAttribute(hash_key=True)
        created_at = NumberAttribute(range_key=True)

    class JobsByStatusIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-status"
            projection = AllProjection()

        status = UnicodeAttribute(hash_key=True)
        created_at = NumberAttribute(range_key=True)

    class JobItem(Model):
        Meta = meta(names["jobs"])

        job_id = UnicodeAttribute(hash_key=True)
        project_id = UnicodeAttribute()
        customer_id = UnicodeAttribute()
        video_name = UnicodeAttribute()
        video_url = UnicodeAttribute()
        status = UnicodeAttribute()
        created_at = NumberAttribute()
        updated_at = NumberAttribute()
        user_metadata = JSONAttribute()
        train = BooleanAttribute()
        can_store = BooleanAttribute()
        size_bytes = NumberAttribute()
        reason = UnicodeAttribute()
        frame_count = NumberAttribute()
        duration_seconds = NumberAttribute()
        frames_done = NumberAttribute()
        manifest_key = UnicodeAttribute()
        index_key = UnicodeAttribute()
        by_project = JobsByProjectIndex()
        by_status = JobsByStatusIndex()

    class ExportsByProjectIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-project"
            projection = AllProjection()

        project_id = UnicodeAttribute(hash_key=True)
        created_at = NumberAttribute(range_key=True)

    class ExportItem(Model):
        Meta = meta(names["exports"])

        export_id = UnicodeAttribute(hash_key=True)
        project_id = UnicodeAttribute()
        customer_id = UnicodeAttribute()
        name = UnicodeAttribute()
        status = UnicodeAttribute()
        created_at = NumberAttribute()
        filters = JSONAttribute()
        num_samples = NumberAttribute()
        json_key = UnicodeAttribute()
        tar_key = UnicodeAttribute()
        reason = UnicodeAttribute()
        by_project = ExportsByProjectIndex()

    class NameItem(Model):
        """A claimed video or export name; ``scope`` is ``video#<project_id>`` or ``export#<project_id>``."""

        Meta = meta(names["names"])

        scope = UnicodeAttribute(hash_key=True)
        name = UnicodeAttribute(range_key=True)
        record_id = UnicodeAttribute()

    return Models(
        api_keys=ApiKeyItem,
        projects=ProjectItem,
        tags=TagItem,
        custom_models=CustomModelItem,
        jobs=JobItem,
        exports=ExportItem,
        names=NameItem,
    )
