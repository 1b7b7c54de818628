"""Chalice entry point: ``chalice local`` and ``chalice package`` look for ``app`` here."""

from framesieve.api import app

__all__ = ["app"]
