"""Runs of consecutive frame numbers as inclusive ``[first, last]`` intervals."""

from __future__ import annotations

import numpy as np


def to_intervals(frame_numbers: np.ndarray) -> list[list[int]]:
    """Group sorted, distinct frame numbers into inclusive intervals.

    ``[3, 4, 5, 9]`` becomes ``[[3, 5], [9, 9]]``.
    """
    if frame_numbers.size == 0:
        return []

    numbers = np.asarray(frame_numbers, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(numbers) != 1)
    starts = np.concatenate(([numbers[0]], numbers[breaks + 1]))
    ends = np.concatenate((numbers[breaks], [numbers[-1]]))
    return [[int(start), int(end)] for start, end in zip(starts, ends)]
