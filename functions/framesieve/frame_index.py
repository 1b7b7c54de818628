"""The per-video frame index: one Parquet table a video, filtered with Arrow.

An index is written once when its video finishes and never changes, so a
loaded table is cached by key for the life of the process. Filtering runs
Arrow compute kernels over whole columns, which keeps a million-frame
project in the milliseconds instead of scanning records one by one.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from framesieve.blobs.base import BlobStore

logger = logging.getLogger(__name__)


class FrameIndex:
    """Loads and caches frame tables from blob storage."""

    def __init__(self, blobs: BlobStore, max_tables: int = 256) -> None:
        self._blobs = blobs
        self._max_tables = max_tables
        self._tables: OrderedDict[str, pa.Table] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, key: str) -> pa.Table:
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table

        table = pq.read_table(io.BytesIO(self._blobs.get_bytes(key)))
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > self._max_tables:
                self._tables.popitem(last=False)
        return table


def match_mask(table: pa.Table, tag_filters: dict[str, list]) -> np.ndarray:
    """Boolean mask of the rows that satisfy every tag condition.

    A tag the table has no column for (a tag added after the video was
    indexed) matches no row.
    """
    mask = np.ones(table.num_rows, dtype=bool)
    for name, values in tag_filters.items():
        if name not in table.column_names:
            return np.zeros(table.num_rows, dtype=bool)

        column = table.column(name)
        value_set = _value_array(column.type, values)
        if value_set is None:
            return np.zeros(table.num_rows, dtype=bool)

        matches = pc.is_in(column, value_set=value_set)
        mask &= matches.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return mask


def _value_array(column_type: pa.DataType, values: list) -> pa.Array | None:
    """Values cast to the column's type; ``None`` when none of them can match."""
    if pa.types.is_integer(column_type):
        whole = [int(value) for value in values if isinstance(value, (int, float)) and float(value).is_integer()]
        return pa.array(whole, type=column_type) if whole else None
    if pa.types.is_floating(column_type):
        numbers = [float(value) for value in values if isinstance(value, (int, float))]
        return pa.array(numbers, type=column_type) if numbers else None
    if pa.types.is_boolean(column_type):
        flags = [value for value in values if isinstance(value, bool)]
        return pa.array(flags, type=column_type) if flags else None
    return pa.array([str(value) for value in values], type=pa.string())
