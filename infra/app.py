"""Assemble the three stacks into a CDK app."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra import nag
from infra.api import ApiStack
from infra.config import DeployConfig
from infra.pipeline import PipelineStack
from infra.storage import StorageStack


@dataclass(frozen=True)
class Stacks:
    storage: StorageStack
    pipeline: PipelineStack
    api: ApiStack


def build_stacks(app: App, env: Environment | None = None, *, check: bool = True) -> Stacks:
    """Add the storage, pipeline and API stacks to ``app``; ``check`` runs cdk-nag's AWS Solutions rules."""
    config = DeployConfig.from_context(app)
    prefix = "".join(part.title() for part in config.table_prefix.split("-"))

    storage = StorageStack(app, f"{prefix}Storage", config, env=env, description="framesieve tables and buckets")
    pipeline = PipelineStack(app, f"{prefix}Pipeline", config=config, env=env, description="framesieve job and export pipelines")
    api = ApiStack(app, f"{prefix}Api", config=config, pipeline=pipeline, env=env, description="framesieve Sieve v1 API")
    # The later stacks use the tables and buckets by name, so only these
    # dependencies order the deployment.
    pipeline.add_stack_dependency(storage)
    api.add_stack_dependency(storage)
    Tags.of(app).add("application", "framesieve")

    nag.suppress(storage, pipeline, api)
    if check:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return Stacks(storage=storage, pipeline=pipeline, api=api)
