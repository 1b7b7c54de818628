"""Domain exceptions shared by the API, the stores and the pipeline.

Every exception a client can cause carries the HTTP status it maps to, so the
API layer turns it into ``{"description": ...}`` without knowing its type.
"""

from __future__ import annotations


class FramesieveError(Exception):
    """Base class; ``status`` is the HTTP status the API returns for it."""

    status = 500

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class BadRequest(FramesieveError):
    status = 400


class Unauthorized(FramesieveError):
    status = 401


class Forbidden(FramesieveError):
    status = 403


class NotFound(FramesieveError):
    status = 404


class Conflict(FramesieveError):
    status = 409


class PayloadTooLarge(FramesieveError):
    status = 413


class TooManyRequests(FramesieveError):
    status = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class StorageError(FramesieveError):
    """A record or blob backend failed; the operation did not take effect."""

    status = 503


class RecordExists(Conflict):
    """A conditional create found the record already there."""


class RecordNotFound(NotFound):
    """The record to read or update does not exist."""


class TransitionRejected(Conflict):
    """A conditional update found the record in another state than expected."""


class VideoError(FramesieveError):
    """A video could not be fetched, opened or decoded; the job fails with this reason."""

    status = 422
