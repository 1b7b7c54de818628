"""Executors run the pipeline steps: in-process threads or Step Functions."""

from framesieve.executor.base import Executor

__all__ = ["Executor"]
