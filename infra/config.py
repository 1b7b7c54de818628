"""Deployment settings, read from CDK context (``cdk.json`` or ``-c key=value``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import App
from aws_cdk import aws_logs as logs

CONTEXT_PREFIX = "framesieve:"


@dataclass(frozen=True)
class DeployConfig:
    """Values that differ between deployments; the defaults suit a first deploy."""

    table_prefix: str = "framesieve"
    # A member name of aws_logs.RetentionDays, such as ONE_MONTH or ONE_YEAR.
    log_retention: str = "ONE_MONTH"
    transit_expiry_days: int = 7
    export_expiry_days: int = 30
    access_log_expiry_days: int = 90
    # "built" uses layers/dist, which layers/build.py writes; "placeholder"
    # synthesizes without it and is only for tests, because the functions
    # cannot import their dependencies from a placeholder.
    layers: str = "built"
    # "image" runs the API from the pipeline image. "layer" runs it as a zip
    # with the layer of layers/build.py, which works only while the API's
    # imports leave out OpenCV and onnxruntime.
    api_code: str = "image"
    gpu_instance_types: tuple[str, ...] = ("g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge")
    gpu_max_vcpus: int = 64
    cpu_max_vcpus: int = 64
    segment_timeout_minutes: int = 120
    segment_concurrency: int = 20

    @classmethod
    def from_context(cls, app: App) -> "DeployConfig":
        def value(name: str, default: object) -> object:
            found = app.node.try_get_context(CONTEXT_PREFIX + name)
            return default if found is None else found

        defaults = cls()
        gpu_types = value("gpu_instance_types", defaults.gpu_instance_types)
        if isinstance(gpu_types, str):
            gpu_types = tuple(part.strip() for part in gpu_types.split(",") if part.strip())

        config = cls(
            table_prefix=str(value("table_prefix", defaults.table_prefix)),
            log_retention=str(value("log_retention", defaults.log_retention)),
            transit_expiry_days=int(value("transit_expiry_days", defaults.transit_expiry_days)),
            export_expiry_days=int(value("export_expiry_days", defaults.export_expiry_days)),
            access_log_expiry_days=int(value("access_log_expiry_days", defaults.access_log_expiry_days)),
            layers=str(value("layers", defaults.layers)),
            api_code=str(value("api_code", defaults.api_code)),
            gpu_instance_types=tuple(gpu_types),
            gpu_max_vcpus=int(value("gpu_max_vcpus", defaults.gpu_max_vcpus)),
            cpu_max_vcpus=int(value("cpu_max_vcpus", defaults.cpu_max_vcpus)),
            segment_timeout_minutes=int(value("segment_timeout_minutes", defaults.segment_timeout_minutes)),
            segment_concurrency=int(value("segment_concurrency", defaults.segment_concurrency)),
        )
        config.validate()
        return config

    @property
    def retention(self) -> logs.RetentionDays:
        """How long every log group keeps its events."""
        return logs.RetentionDays[self.log_retention]

    def validate(self) -> None:
        if self.log_retention not in logs.RetentionDays.__members__:
            raise ValueError(
                f"{CONTEXT_PREFIX}log_retention must name an aws_logs.RetentionDays member such as ONE_MONTH, "
                f"got {self.log_retention!r}"
            )
        if self.layers not in ("built", "placeholder"):
            raise ValueError(f"{CONTEXT_PREFIX}layers must be 'built' or 'placeholder', got {self.layers!r}")
        if self.api_code not in ("image", "layer"):
            raise ValueError(f"{CONTEXT_PREFIX}api_code must be 'image' or 'layer', got {self.api_code!r}")
        if not self.gpu_instance_types:
            raise ValueError(f"{CONTEXT_PREFIX}gpu_instance_types must name at least one instance type")
        # The prefix also starts the bucket names, which S3 limits to 63
        # lowercase letters, digits and hyphens. The kind, account id and
        # region take up to 40 of them.
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,22}", self.table_prefix):
            raise ValueError(
                f"{CONTEXT_PREFIX}table_prefix must be 1 to 23 lowercase letters, digits or hyphens, "
                f"got {self.table_prefix!r}"
            )
