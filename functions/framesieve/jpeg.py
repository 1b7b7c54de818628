"""JPEG encoding of decoded frames for the frame store."""

from __future__ import annotations

import cv2
import numpy as np

from framesieve.errors import VideoError

DEFAULT_JPEG_QUALITY = 90


def encode_jpeg(image: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """Encode a BGR or grey ``uint8`` frame as baseline JPEG at ``quality`` (1-100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be between 1 and 100, got {quality}")

    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise VideoError(f"could not encode a {image.shape} {image.dtype} frame as JPEG")
    return buffer.tobytes()
