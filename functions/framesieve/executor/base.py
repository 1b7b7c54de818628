"""The executor interface: start the work behind a job or an export.

Both calls return at once; the work reports through the job and export
records. The payloads are the JSON inputs of the first pipeline step.
"""

from __future__ import annotations

import abc


class Executor(abc.ABC):
    @abc.abstractmethod
    def start_job(self, payload: dict) -> None:
        """Run ``framesieve.pipeline.job`` steps for ``{"job_id": ...}``."""

    @abc.abstractmethod
    def start_export(self, payload: dict) -> None:
        """Run ``framesieve.pipeline.export`` steps for ``{"export_id": ...}``."""

    def close(self) -> None:
        """Stop accepting work; in-flight work may be resumed at next start."""
