"""Detection boxes and the tag values built from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A detection in coordinates normalised to 0..1 of the frame's width and height."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float

    def as_list(self) -> list[float]:
        """``[x1, y1, x2, y2, score]`` rounded to 4 decimals, the form stored in frame metadata."""
        return [round(value, 4) for value in (self.x1, self.y1, self.x2, self.y2, self.score)]


def clip_unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
