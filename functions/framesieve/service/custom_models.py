"""Custom models: add_custom_model_config, set_active_custom_model, get_custom_models.

Files are fetched and the version validated while the request waits, so
the response already states whether the version is ``up`` or ``failed``.
The first version that validates becomes active; later ones wait for
set_active_custom_model.

NOTE: behind API Gateway a request ends after 29 s. On AWS a model that
takes longer to download and check fails the request (504) and is not
recorded. Moving validation into a Step Functions task would lift that limit.
"""

from __future__ import annotations

import logging
import time

from framesieve.errors import BadRequest, Conflict, NotFound, RecordNotFound
from framesieve.fetch import FetchPolicy, check_url
from framesieve.model_versions import STATUS_FAILED, STATUS_UP, fetch_and_validate
from framesieve.names import MAX_FILE_URLS, validate_name
from framesieve.records.base import CustomModel
from framesieve.service.context import Context, Params
from framesieve.tags import builtin_specs

logger = logging.getLogger(__name__)


def _file_urls(ctx: Context, params: Params) -> list[str]:
    urls = params.get("file_urls")
    if not isinstance(urls, list) or not urls:
        raise BadRequest("file_urls must be a non-empty list of URLs")
    if len(urls) > MAX_FILE_URLS:
        raise BadRequest(f"file_urls may list at most {MAX_FILE_URLS} files, got {len(urls)}")
    policy = FetchPolicy.from_settings(ctx.settings)
    return [check_url(url, policy, field=f"file_urls[{position}]") for position, url in enumerate(urls)]


def add_custom_model_config(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    model_name = validate_name("model_name", params.get("model_name"))
    version_name = validate_name("version_name", params.get("version_name"))
    urls = _file_urls(ctx, params)

    try:
        model = ctx.records.get_custom_model(project.project_id, model_name)
    except RecordNotFound:
        model = CustomModel(project.project_id, model_name, None, {}, time.time())
    if version_name in model.versions:
        raise Conflict(f"model {model_name!r} already has a version {version_name!r}")

    version = fetch_and_validate(
        ctx.settings, ctx.blobs, ctx.key.customer_id, project.project_id, model_name, version_name, urls
    )

    _check_tag_free(ctx, project.project_id, model_name, version)

    # Re-read before writing: another request may have added a version meanwhile.
    try:
        model = ctx.records.get_custom_model(project.project_id, model_name)
    except RecordNotFound:
        pass
    if version_name in model.versions:
        raise Conflict(f"model {model_name!r} already has a version {version_name!r}")
    model.versions[version_name] = version
    if model.active_version is None and version.status == STATUS_UP:
        model.active_version = version_name
    ctx.records.put_custom_model(model)

    response = {
        "description": f"Pushed custom model {model_name} with version {version_name}",
        "status": version.status,
    }
    if version.reason:
        response["reason"] = version.reason
    return response


def _check_tag_free(ctx: Context, project_id: str, model_name: str, version) -> None:
    """Fail a version whose tag a built-in tagger or another model already serves."""
    if version.status != STATUS_UP:
        return
    tag = version.config["tag"]
    if tag in builtin_specs():
        version.status, version.reason = STATUS_FAILED, f"tag {tag!r} is a built-in tag; choose another tag name in the config"
        return
    for other in ctx.records.list_custom_models(project_id):
        active = other.versions.get(other.active_version or "")
        if other.model_name != model_name and active is not None and active.config.get("tag") == tag:
            version.status, version.reason = STATUS_FAILED, f"tag {tag!r} is already served by custom model {other.model_name!r}"
            return


def set_active_custom_model(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    model_name = validate_name("model_name", params.get("model_name"))
    version_name = validate_name("version_name", params.get("version_name"))
    try:
        model = ctx.records.get_custom_model(project.project_id, model_name)
    except RecordNotFound:
        raise NotFound(f"custom model {model_name!r} not found in project {project.project_name!r}") from None

    version = model.versions.get(version_name)
    if version is None:
        raise NotFound(f"model {model_name!r} has no version {version_name!r}")
    if version.status != STATUS_UP:
        raise Conflict(f"version {version_name!r} failed validation and cannot be active: {version.reason}")

    model.active_version = version_name
    ctx.records.put_custom_model(model)
    logger.info("model activated project=%s model=%s version=%s", project.project_name, model_name, version_name)
    return {"description": f"Set custom model {model_name} to active version {version_name}"}


def model_summary(model: CustomModel) -> dict:
    active = model.versions.get(model.active_version or "")
    outputs = []
    tag = None
    if active is not None and active.config:
        tag = active.config.get("tag")
        outputs = active.config.get("classes") if active.config.get("task") == "classify" else [True, False]

    versions = {}
    for name, version in model.versions.items():
        entry = {"files": list(version.files), "status": version.status}
        if version.reason:
            entry["reason"] = version.reason
        versions[name] = entry

    if active is not None:
        status = active.status
    elif any(version.status == STATUS_UP for version in model.versions.values()):
        status = "received"
    else:
        status = "failed"
    return {
        "custom_model_info": {"active_version": model.active_version, "versions": versions},
        "model_name": model.model_name,
        "outputs": outputs,
        "status": status,
        "tag": tag,
    }


def get_custom_models(ctx: Context, params: Params) -> dict:
    project = ctx.project(params)
    models = ctx.records.list_custom_models(project.project_id)
    return {
        "description": "Successful",
        "tag_status": {
            "project_name": project.project_name,
            "custom_models": [model_summary(model) for model in models],
        },
    }
