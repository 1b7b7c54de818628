"""Code assets: the functions folder, the API dependency layer and the pipeline image.

Synthesis never builds anything: the layer is a folder that
``layers/build.py`` prepared, and the container image is built by the CDK
CLI only when ``cdk deploy`` publishes it.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import DeployConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYERS_DIR = REPO_ROOT / "layers"
PLACEHOLDER_LAYER_DIR = LAYERS_DIR / "placeholder"

# Files under functions/ that no function or container needs at run time.
FUNCTION_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "tests",
    "**/.pytest_cache",
    "Dockerfile",
    ".dockerignore",
]

# Image targets of functions/Dockerfile.
CPU_TARGET = "cpu"
GPU_TARGET = "gpu"


class MissingLayerError(RuntimeError):
    """The layer folder that ``cdk deploy`` would upload has not been built."""


def function_code() -> lambda_.Code:
    """The ``functions`` folder: the ``framesieve`` package and the Lambda handler modules."""
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=FUNCTION_EXCLUDES)


def layer_code(name: str, config: DeployConfig) -> lambda_.Code:
    """Return the built layer ``layers/dist/<name>``, or the placeholder when the config allows it."""
    built = LAYERS_DIR / "dist" / name
    if (built / "python").is_dir():
        return lambda_.Code.from_asset(str(built))

    if config.layers == "placeholder":
        return lambda_.Code.from_asset(str(PLACEHOLDER_LAYER_DIR))

    raise MissingLayerError(
        f"Lambda layer {name!r} is not built: {built / 'python'} is missing. "
        "Run `python layers/build.py` before `cdk synth` or `cdk deploy`."
    )


def pipeline_image(scope: Construct, construct_id: str, target: str) -> ecr_assets.DockerImageAsset:
    """Image built from ``functions/Dockerfile`` at ``target`` (``cpu`` or ``gpu``) for x86_64."""
    return ecr_assets.DockerImageAsset(
        scope,
        construct_id,
        directory=str(FUNCTIONS_DIR),
        file="Dockerfile",
        target=target,
        platform=ecr_assets.Platform.LINUX_AMD64,
        exclude=["**/__pycache__", "**/*.pyc", "*.egg-info", "tests", "**/.pytest_cache"],
    )
