"""The context of an operation: the backends, the caller and its parameters."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from framesieve.errors import BadRequest, NotFound, RecordNotFound
from framesieve.frame_index import FrameIndex
from framesieve.records.base import ApiKey, Project
from framesieve.runtime import Runtime

_index_lock = threading.Lock()
_indexes: dict[int, FrameIndex] = {}


def frame_index_for(runtime: Runtime) -> FrameIndex:
    """Return the index cache of this blob store, shared by all requests of the process."""
    with _index_lock:
        index = _indexes.get(id(runtime.blobs))
        if index is None:
            index = FrameIndex(runtime.blobs)
            _indexes[id(runtime.blobs)] = index
        return index


@dataclass
class Params:
    """Request parameters: the JSON body's fields, then the query string's.

    Query-string parameters may repeat, so they keep every value.
    """

    body: Mapping
    query: Mapping[str, list[str]]

    def get(self, name: str) -> object:
        if name in self.body:
            return self.body[name]
        values = self.query.get(name)
        if values:
            return values[-1]
        return None

    def has(self, name: str) -> bool:
        return name in self.body or bool(self.query.get(name))

    def string(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise BadRequest(f"missing required field {name}")
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be a string, got {type(value).__name__}")
        return value


@dataclass
class Context:
    runtime: Runtime
    key: ApiKey
    raw_key: str

    @property
    def records(self):
        return self.runtime.records

    @property
    def blobs(self):
        return self.runtime.blobs

    @property
    def settings(self):
        return self.runtime.settings

    @property
    def index(self) -> FrameIndex:
        return frame_index_for(self.runtime)

    def project(self, params: Params) -> Project:
        """Return the caller's project named by ``project_name``; ``NotFound`` for anyone else's."""
        from framesieve.names import validate_name

        name = validate_name("project_name", params.get("project_name"))
        try:
            return self.records.get_project(self.key.customer_id, name)
        except RecordNotFound:
            raise NotFound(f"project {name!r} not found; create it with init_project") from None
