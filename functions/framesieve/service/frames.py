"""Frame queries: get_metadata and get_intervals."""

from __future__ import annotations

import json

from framesieve.errors import BadRequest
from framesieve.errors import BadRequest
from framesieve.filters import FrameFilter, parse_filters
from framesieve.query import FrameRenderer, page_frames, queryable_jobs, video_intervals
from framesieve.records.base import Job, Project
from framesieve.service.context import Context, Params
from framesieve.service.videos import page_bounds
from framesieve.tags import builtin_specs, project_tags


def filter_params(params: Params) -> dict[str, list[str]]:
    """Filter names with all their values, from the query string and a JSON body.

    A body may carry filters as top-level fields or under ``tags``, as one
    value or a list of values.
    """
    merged: dict[str, list[str]] = {name: list(values) for name, values in params.query.items()}
    sources = [params.body]
    tags = params.body.get("tags")
    if isinstance(tags, dict):
        sources.append(tags)
    elif isinstance(tags, list):
        sources.append(_pairs(tags))
    elif tags is not None:
        raise BadRequest('tags must be an object of tag name to value(s), or a list of "name=value" strings')

    for source in sources:
        for name, value in source.items():
            if name == "tags" and source is params.body:
                continue
            values = value if isinstance(value, list) else [value]
            merged.setdefault(name, []).extend(_as_text(item) for item in values)
    return merged


def _pairs(entries: list) -> dict[str, list[str]]:
    """``["lighting=dim", "blur=blurry"]`` as filters: the spec calls ``tags`` a list."""
    pairs: dict[str, list[str]] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, str) or "=" not in entry:
            raise BadRequest(f'tags[{position}] must be a "name=value" string, got {entry!r}')
        name, _, value = entry.partition("=")
        pairs.setdefault(name.strip(), []).append(value.strip())
    return pairs


def _as_text(value: object) -> str:
    if isinstance(value, (dict, list)):
        raise BadRequest(f"filter values must be strings, numbers or booleans, got {json.dumps(value)[:80]}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_filter(ctx: Context, project: Project, params: Params) -> tuple[FrameFilter, list[Job], set[str]]:
    """Parse the filter; return it, the videos it can match, and the hidden built-in tags."""
    tags = project_tags(ctx.records, project.project_id)
    jobs = ctx.records.list_jobs(project.project_id)
    metadata_keys = {key for job in jobs for key in job.user_metadata}

    frame_filter = parse_filters(filter_params(params), tags, metadata_keys)
    visible = {tag.name for tag in tags}
    hidden = set(builtin_specs()) - visible
    return frame_filter, queryable_jobs(jobs, frame_filter), hidden


def get_metadata(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    start, end = page_bounds(params)
    frame_filter, jobs, hidden = resolve_filter(ctx, project, params)

    renderer = FrameRenderer(project, ctx.blobs, ctx.settings.link_ttl_seconds, hidden)
    page = page_frames(ctx.index, jobs, frame_filter, renderer, start, end)
    return {
        "description": f"Successful. Returned with start index {start} and end index {end}",
        "metadata": page.records,
        "next_start": end if end < page.total else -1,
        "total_samples": page.total,
    }


def get_intervals(ctx: Context, params: Params) -> list:
    project = ctx.project(params)
    frame_filter, jobs, _ = resolve_filter(ctx, project, params)
    return video_intervals(ctx.index, jobs, frame_filter)
