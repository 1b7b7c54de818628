"""Projects and their tags: init_project, get_projects, add/get/delete_tags."""

from __future__ import annotations

import logging
import time
import uuid

from framesieve.errors import BadRequest, Conflict, NotFound, RecordExists
from framesieve.names import MAX_TAGS_PER_REQUEST, validate_name
from framesieve.records.base import Project, Tag
from framesieve.service.context import Context, Params
from framesieve.tags import project_tags

logger = logging.getLogger(__name__)


def _settings(params: Params) -> dict:
    """Project settings from the request; only ``cascade`` exists so far."""
    from framesieve.models.cascade import CascadeSettings

    cascade = params.get("cascade")
    if cascade is not None and not isinstance(cascade, dict):
        raise BadRequest("cascade must be an object with enabled, threshold and max_gap_frames")
    return {"cascade": CascadeSettings.from_dict(cascade).to_dict()}


def init_project(ctx: Context, params: Params) -> dict:
    name = validate_name("project_name", params.get("project_name"))
    project = Project(
        project_id=str(uuid.uuid4()),
        customer_id=ctx.key.customer_id,
        project_name=name,
        created_at=time.time(),
        settings=_settings(params),
    )
    try:
        ctx.records.create_project(project)
    except RecordExists:
        raise Conflict(f"project {name!r} already exists") from None

    logger.info("project created project=%s id=%s", name, project.project_id)
    return {"description": f"Created project {name}", "project_id": project.project_id}


def get_projects(ctx: Context, params: Params) -> dict:
    projects = ctx.records.list_projects(ctx.key.customer_id)
    key = ctx.key
    return {
        "description": "successful",
        "projects": [project.project_name for project in projects],
        "customer_info": {
            "API-Key": ctx.raw_key,
            "can_set": key.can_set,
            "can_store": key.can_store,
            "name": key.name,
            "videos_left": key.videos_left,
            "hours_left": round(key.hours_left, 4),
        },
    }


def get_project_settings(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    from framesieve.models.cascade import CascadeSettings

    cascade = CascadeSettings.from_dict(project.settings.get("cascade"))
    return {"description": "Successful", "project_name": project.project_name, "settings": {"cascade": cascade.to_dict()}}


def set_project_settings(ctx: Context, params: Params) -> dict:
    """Replace the project's settings; new jobs use them."""
    project = ctx.project(params)
    if not isinstance(params.get("cascade"), dict):
        raise BadRequest("cascade must be an object with enabled, threshold and/or max_gap_frames")
    settings = _settings(params)
    ctx.records.update_project_settings(ctx.key.customer_id, project.project_name, settings)
    logger.info("project settings updated project=%s settings=%s", project.project_name, settings)
    return {"description": f"Updated settings of project {project.project_name}", "settings": settings}


def _tag_list(params: Params) -> list:
    tags = params.get("tags")
    if not isinstance(tags, list):
        raise BadRequest("tags must be a list")
    if not tags:
        raise BadRequest("tags must not be empty")
    if len(tags) > MAX_TAGS_PER_REQUEST:
        raise BadRequest(f"at most {MAX_TAGS_PER_REQUEST} tags per request, got {len(tags)}")
    return tags


def add_tags(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    now = time.time()
    new_tags: list[Tag] = []

    # Validate every entry before storing any, so a bad entry stores nothing.
    for position, entry in enumerate(_tag_list(params)):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            raise BadRequest(f"tags[{position}] must be an object with name and description")
        name = validate_name("tag_name", entry.get("name"), label=f"tags[{position}].name")
        description = entry.get("description", "")
        if not isinstance(description, str):
            raise BadRequest(f"tags[{position}].description must be a string")
        if len(description) > 1024:
            raise BadRequest(f"tags[{position}].description is longer than 1024 characters")
        new_tags.append(Tag(project_id=project.project_id, name=name, description=description, created_at=now))

    metadata_keys = {key for job in ctx.records.list_jobs(project.project_id) for key in job.user_metadata}
    clashes = sorted(tag.name for tag in new_tags if tag.name in metadata_keys)
    if clashes:
        raise BadRequest(
            f"tag names {', '.join(clashes)} are user_metadata keys of videos in this project; "
            "a filter could not tell them apart, so choose other names"
        )

    for tag in new_tags:
        ctx.records.put_tag(tag)
    logger.info("tags added project=%s tags=%s", project.project_name, [tag.name for tag in new_tags])
    return {"description": "Pushed tags"}


def get_tags(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    return {
        "description": "Successful",
        "tag_status": {
            "project_name": project.project_name,
            "tags": [tag.to_response() for tag in project_tags(ctx.records, project.project_id)],
        },
    }


def delete_tags(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    names = []
    for position, entry in enumerate(_tag_list(params)):
        if isinstance(entry, dict):
            entry = entry.get("name")
        names.append(validate_name("tag_name", entry, label=f"tags[{position}]"))

    visible = {tag.name: tag for tag in project_tags(ctx.records, project.project_id)}
    missing = [name for name in names if name not in visible]
    if missing:
        raise NotFound(f"tags not found in project {project.project_name!r}: {', '.join(missing)}")

    deleted = []
    now = time.time()
    for name in dict.fromkeys(names):
        tag = visible[name]
        if tag.computed:
            # Built-in values stay in the index; the marker only hides them.
            ctx.records.put_tag(Tag(project.project_id, name, tag.description, now, deleted=True))
        else:
            ctx.records.delete_tag(project.project_id, name)
        deleted.append({"name": name, "description": tag.description})

    logger.info("tags deleted project=%s tags=%s", project.project_name, names)
    return {"description": "successful", "tags": deleted}
