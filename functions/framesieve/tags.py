"""The tags of a project: built-in taggers, model tags and requested tags.

Built-in tags belong to every project and are computed on every frame. A
project may request more tags with add_tags; a requested tag that nothing
computes yet has status ``received``. Deleting a built-in tag hides it from
get_tags, filters and frame records; adding it back shows it again, with the
values computed all along.
"""

from __future__ import annotations

from dataclasses import dataclass

from framesieve.records.base import RecordStore, Tag

STATUS_UP = "up"
STATUS_RECEIVED = "received"


@dataclass(frozen=True)
class ProjectTag:
    name: str
    description: str
    output_kind: str
    outputs: tuple
    status: str
    computed: bool

    def to_response(self) -> dict:
        return {
            "description": self.description,
            "name": self.name,
            "output_kind": self.output_kind,
            "outputs": list(self.outputs),
            "status": self.status,
            "type": "metadata",
        }


def builtin_specs() -> dict:
    """Specs of every tag framesieve computes without a custom model, by name."""
    from framesieve.tagging import BUILTIN_TAGS

    specs = {spec.name: spec for spec in BUILTIN_TAGS}
    try:
        from framesieve.models import MODEL_TAGS
    except ImportError:
        MODEL_TAGS = ()
    for spec in MODEL_TAGS:
        specs[spec.name] = spec
    return specs


def project_tags(records: RecordStore, project_id: str) -> list[ProjectTag]:
    """List every visible tag of a project: built-ins first, then requested tags."""
    requested: dict[str, Tag] = {tag.name: tag for tag in records.list_tags(project_id)}
    tags: list[ProjectTag] = []

    for name, spec in builtin_specs().items():
        override = requested.pop(name, None)
        if override is not None and override.deleted:
            continue
        description = override.description if override and override.description else spec.description
        tags.append(
            ProjectTag(
                name=name,
                description=description,
                output_kind=spec.output_kind,
                outputs=tuple(spec.outputs),
                status=STATUS_UP,
                computed=True,
            )
        )

    for model in records.list_custom_models(project_id):
        version = model.versions.get(model.active_version or "")
        if version is None or version.status != STATUS_UP or not version.config:
            continue
        config = version.config
        name = config["tag"]
        override = requested.pop(name, None)
        if override is not None and override.deleted:
            continue
        classify = config["task"] == "classify"
        tags.append(
            ProjectTag(
                name=name,
                description=(override.description if override and override.description else config.get("description"))
                or f"custom model {model.model_name} version {version.version_name}",
                output_kind="string" if classify else "boolean",
                outputs=tuple(config["classes"]) if classify else (True, False),
                status=STATUS_UP,
                computed=True,
            )
        )

    for tag in requested.values():
        if tag.deleted:
            continue
        tags.append(
            ProjectTag(
                name=tag.name,
                description=tag.description,
                output_kind="string",
                outputs=(),
                status=STATUS_RECEIVED,
                computed=False,
            )
        )
    return tags
