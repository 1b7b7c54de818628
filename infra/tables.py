"""The DynamoDB table design: names, keys and indexes of every record table.

The PynamoDB models in ``framesieve.records.dynamo_models`` declare the same
tables; change both together. Every table bills per request, every index
projects all attributes and every key attribute is named for the record
field it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Key:
    """A key attribute; ``kind`` is the DynamoDB scalar type, ``S`` or ``N``."""

    name: str
    kind: str = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition: Key
    sort: Key | None = None


@dataclass(frozen=True)
class TableDesign:
    """One table; ``suffix`` follows the deployment's table prefix and a dash."""

    suffix: str
    partition: Key
    sort: Key | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def table_name(self, prefix: str) -> str:
        return f"{prefix}-{self.suffix}"


TABLES: tuple[TableDesign, ...] = (
    TableDesign("api-keys", Key("key_hash")),
    TableDesign(
        "projects",
        Key("customer_id"),
        Key("project_name"),
        (Index("by-project-id", Key("project_id")),),
    ),
    TableDesign("tags", Key("project_id"), Key("name")),
    TableDesign("custom-models", Key("project_id"), Key("model_name")),
    TableDesign(
        "jobs",
        Key("job_id"),
        indexes=(
            Index("by-project", Key("project_id"), Key("created_at", "N")),
            Index("by-status", Key("status"), Key("created_at", "N")),
        ),
    ),
    TableDesign(
        "exports",
        Key("export_id"),
        indexes=(Index("by-project", Key("project_id"), Key("created_at", "N")),),
    ),
    # Claimed video and export names; the scope is "video#<project_id>" or "export#<project_id>".
    TableDesign("names", Key("scope"), Key("name")),
)
