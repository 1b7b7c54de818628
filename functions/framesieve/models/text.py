"""Text detection with the PP-OCRv4 detector (DB network) shipped in rapidocr-onnxruntime 1.4.4.

The network takes a BGR image normalised to -1..1 in NCHW layout, with sides
that are multiples of 32, and returns a per-pixel text probability map of the
same size. A text region here is a connected area where the probability
exceeds ``PIXEL_THRESHOLD`` and whose mean probability reaches
``REGION_THRESHOLD`` (rapidocr's ``thresh`` and ``box_thresh``). As in
rapidocr, regions under ``MIN_REGION_SIDE`` pixels on a side are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from framesieve.models.detections import Box
from framesieve.tagging import TagSpec

if TYPE_CHECKING:
    from framesieve.models.runner import OnnxModel

# NOTE: rapidocr upscales so the shorter side is at least 736 px for
# document images. Frames are scaled so the longer side is 640 px instead,
# which is faster and keeps one input size per video, but misses text whose
# letters end up under about 8 px tall.
MAX_SIDE = 640
PIXEL_THRESHOLD = 0.3
REGION_THRESHOLD = 0.5
MIN_REGION_SIDE = 3

TEXT_SPECS: tuple[TagSpec, ...] = (
    TagSpec(
        name="text_detected",
        description="whether the frame shows legible text",
        output_kind="boolean",
        outputs=(True, False),
        method=(
            f"PP-OCRv4 text detector on the frame scaled to {MAX_SIDE} px on its longer side: True when a region "
            f"of pixels with text probability above {PIXEL_THRESHOLD} has a mean probability of {REGION_THRESHOLD} or more."
        ),
    ),
)


def input_size(height: int, width: int) -> tuple[int, int]:
    """(width, height) no larger than ``MAX_SIDE``, rounded to multiples of 32."""
    scale = min(1.0, MAX_SIDE / max(height, width))
    return max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32)


class TextDetector:
    """Text regions for batches of BGR frames; a ``BatchTagger`` for ``text_detected``."""

    specs = TEXT_SPECS

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    def detect(self, images: list[np.ndarray]) -> list[list[Box]]:
        if not images:
            return []

        # Frames of one batch can differ in size only across videos; group by
        # input size so each run gets a rectangular batch.
        results: list[list[Box]] = [[] for _ in images]
        by_size: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            by_size.setdefault(input_size(*image.shape[:2]), []).append(index)

        for size, indexes in by_size.items():
            batch = np.stack([cv2.resize(images[i], size, interpolation=cv2.INTER_AREA) for i in indexes])
            batch = ((batch.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)
            (probabilities,) = self.model.run(np.ascontiguousarray(batch))
            for index, probability in zip(indexes, probabilities[:, 0]):
                results[index] = _regions(probability)
        return results

    def tag_batch(self, images: list[np.ndarray]) -> list[dict]:
        """``text_detected`` per frame, plus ``text_boxes`` as metadata."""
        return [
            {"text_detected": bool(found), "text_boxes": [box.as_list() for box in found]}
            for found in self.detect(images)
        ]


def _regions(probability: np.ndarray) -> list[Box]:
    height, width = probability.shape
    mask = (probability > PIXEL_THRESHOLD).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)

    boxes = []
    for label in range(1, count):
        left, top, box_width, box_height, _ = stats[label]
        if box_width < MIN_REGION_SIDE or box_height < MIN_REGION_SIDE:
            continue
        score = float(probability[labels == label].mean())
        if score >= REGION_THRESHOLD:
            boxes.append(Box(
                float(left / width), float(top / height),
                float((left + box_width) / width), float((top + box_height) / height), score,
            ))
    return sorted(boxes, key=lambda box: -box.score)
