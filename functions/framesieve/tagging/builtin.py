"""The built-in per-frame tags: geometry, exposure, focus, noise, glare and motion.

Every statistic but noise is computed on one greyscale copy, shrunk by a
whole factor to between ``ANALYSIS_WIDTH`` and twice that wide, because
whole factors take OpenCV's fast area-averaging path. Downscaling would
average noise away, so noise is measured on a full-resolution centre crop. The thresholds
were chosen by looking at frames of the real clips in the test corpus
(night city, overexposed webcam, defocused and motion-blurred phone video,
surveillance, talking heads) and at the statistic's distribution over every
frame of each clip; ``tests/test_taggers.py`` checks them on real frames.
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from framesieve.tagging import measures
from framesieve.tagging.spec import TagSpec, TagValue

logger = logging.getLogger(__name__)

ANALYSIS_WIDTH = 320
MOTION_WIDTH = 160
NOISE_CROP = (240, 320)  # rows, columns of the full-resolution centre crop

# Lighting, on the median grey level (0-255) and the clipped fraction.
DIM_MEDIAN_BELOW = 60
BRIGHT_MEDIAN_ABOVE = 190
BRIGHT_CLIPPED_FRACTION = 0.10
CLIPPED_LEVEL = 250

# Focus ratio: variance of the Laplacian over the image variance.
BLURRY_FOCUS_BELOW = 0.04
SLIGHTLY_BLURRY_FOCUS_BELOW = 0.12

# Tenengrad, in grey levels squared, on the analysis copy.
SHARP_TENENGRAD_MIN = 3000.0

# RMS contrast, in grey levels.
LOW_CONTRAST_BELOW = 22.0
HIGH_CONTRAST_FROM = 65.0

# Immerkær noise sigma, in grey levels.
NOISY_SIGMA_FROM = 3.5

# Fraction of pixels at or above CLIPPED_LEVEL.
GLARE_LOW_FROM = 0.01
GLARE_HIGH_FROM = 0.08

# Motion: a pixel of the blurred motion thumbnail changed when it moved by
# this many grey levels, and the frame moved when this fraction changed.
MOTION_PIXEL_DIFFERENCE = 15
MOTION_CHANGED_FRACTION = 0.002

BUILTIN_TAGS: tuple[TagSpec, ...] = (
    TagSpec(
        name="aspect_ratio",
        description="width to height ratio of the frame",
        output_kind="string",
        method="Frame width and height divided by their greatest common divisor, written width:height (704x480 is 22:15).",
    ),
    TagSpec(
        name="image_width",
        description="frame width in pixels",
        output_kind="integer",
        method="Width of the decoded frame in pixels.",
    ),
    TagSpec(
        name="image_height",
        description="frame height in pixels",
        output_kind="integer",
        method="Height of the decoded frame in pixels.",
    ),
    TagSpec(
        name="lighting",
        description="overall exposure of the frame",
        output_kind="string",
        outputs=("dim", "normal", "bright"),
        method=(
            f"Median grey level of a copy {ANALYSIS_WIDTH}-{2 * ANALYSIS_WIDTH - 1} px wide: dim below {DIM_MEDIAN_BELOW}, "
            f"bright above {BRIGHT_MEDIAN_ABOVE} or when {BRIGHT_CLIPPED_FRACTION:.0%} or more of the pixels "
            f"are at {CLIPPED_LEVEL} or above, normal otherwise."
        ),
    ),
    TagSpec(
        name="blur",
        description="how out of focus or motion-blurred the frame is",
        output_kind="string",
        outputs=("not_blurry", "slightly_blurry", "blurry"),
        method=(
            f"Variance of the Laplacian divided by the grey-level variance, on a copy {ANALYSIS_WIDTH}-{2 * ANALYSIS_WIDTH - 1} px "
            f"wide: blurry below {BLURRY_FOCUS_BELOW}, slightly_blurry below {SLIGHTLY_BLURRY_FOCUS_BELOW}, "
            "not_blurry otherwise."
        ),
    ),
    TagSpec(
        name="sharpness",
        description="whether the frame has crisp, strong edges",
        output_kind="string",
        outputs=("sharp", "not_sharp"),
        method=(
            f"Sharp when the mean squared Sobel gradient (Tenengrad) on a copy {ANALYSIS_WIDTH}-{2 * ANALYSIS_WIDTH - 1} px wide "
            f"is at least {SHARP_TENENGRAD_MIN:.0f} and the frame is not_blurry, not_sharp otherwise."
        ),
    ),
    TagSpec(
        name="contrast",
        description="spread of the grey levels in the frame",
        output_kind="string",
        outputs=("low", "normal", "high"),
        method=(
            f"RMS contrast (standard deviation of the grey levels): low below {LOW_CONTRAST_BELOW:.0f}, "
            f"high from {HIGH_CONTRAST_FROM:.0f}, normal otherwise."
        ),
    ),
    TagSpec(
        name="noise",
        description="visible sensor or compression noise",
        output_kind="string",
        outputs=("clear", "noisy"),
        method=(
            f"Immerkær's fast noise sigma on a full-resolution {NOISE_CROP[1]}x{NOISE_CROP[0]} centre crop: "
            f"noisy from {NOISY_SIGMA_FROM} grey levels, clear below."
        ),
    ),
    TagSpec(
        name="glare",
        description="clipped highlights from light sources or reflections",
        output_kind="string",
        outputs=("none", "low", "high"),
        method=(
            f"Fraction of pixels at grey level {CLIPPED_LEVEL} or above: none below {GLARE_LOW_FROM:.1%}, "
            f"low below {GLARE_HIGH_FROM:.0%}, high from {GLARE_HIGH_FROM:.0%}."
        ),
    ),
    TagSpec(
        name="motion_detected",
        description="whether the scene changed since the previous frame",
        output_kind="boolean",
        outputs=(True, False),
        method=(
            f"True when at least {MOTION_CHANGED_FRACTION:.1%} of the pixels of a {MOTION_WIDTH}-{2 * MOTION_WIDTH - 1} px wide, "
            f"Gaussian-blurred grey thumbnail changed by {MOTION_PIXEL_DIFFERENCE} grey levels or more from the "
            "previous frame, after removing the change in mean brightness; False for the first frame of a video."
        ),
    ),
)


def aspect_ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height) or 1
    return f"{width // divisor}:{height // divisor}"


def _shrunk(image: np.ndarray, min_width: int) -> np.ndarray:
    """Shrink by the largest whole factor that keeps the width at or above ``min_width``.

    Images narrower than ``min_width`` are used as they are, never enlarged.
    """
    height, width = image.shape[:2]
    factor = max(1, width // min_width)
    if factor == 1:
        return image
    # Dropping the last few rows and columns makes the factor exact.
    view = image[: height - height % factor, : width - width % factor]
    size = (view.shape[1] // factor, max(1, view.shape[0] // factor))
    return cv2.resize(view, size, interpolation=cv2.INTER_AREA)


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _centre_crop(image: np.ndarray, rows: int, columns: int) -> np.ndarray:
    height, width = image.shape[:2]
    top = max(0, (height - rows) // 2)
    left = max(0, (width - columns) // 2)
    return image[top:top + rows, left:left + columns]


def _analysis_grey(image: np.ndarray) -> np.ndarray:
    # Converting first and then shrinking the single channel costs about a
    # fifth of shrinking the colour image (0.2 against 1.1 ms at 768x576).
    return _shrunk(_grey(image), ANALYSIS_WIDTH)


def _motion_thumbnail(analysis_grey: np.ndarray) -> np.ndarray:
    # Blurring before differencing keeps sensor noise and compression
    # ringing under the per-pixel threshold.
    return cv2.GaussianBlur(_shrunk(analysis_grey, MOTION_WIDTH), (5, 5), 0)


def classify_lighting(median: float, clipped: float) -> str:
    if median < DIM_MEDIAN_BELOW:
        return "dim"
    if median > BRIGHT_MEDIAN_ABOVE or clipped >= BRIGHT_CLIPPED_FRACTION:
        return "bright"
    return "normal"


def classify_blur(focus: float) -> str:
    if focus < BLURRY_FOCUS_BELOW:
        return "blurry"
    if focus < SLIGHTLY_BLURRY_FOCUS_BELOW:
        return "slightly_blurry"
    return "not_blurry"


def classify_contrast(rms: float) -> str:
    if rms < LOW_CONTRAST_BELOW:
        return "low"
    if rms >= HIGH_CONTRAST_FROM:
        return "high"
    return "normal"


def classify_glare(clipped: float) -> str:
    if clipped < GLARE_LOW_FROM:
        return "none"
    if clipped < GLARE_HIGH_FROM:
        return "low"
    return "high"


class FrameTagger:
    """Compute every built-in tag for the frames of one segment, in order.

    The tagger keeps the previous frame's motion thumbnail, so one instance
    serves one stream of consecutive frames. Call :meth:`prime` with the frame
    before a segment's first frame so that frame gets a real motion value.
    """

    def __init__(self) -> None:
        self._previous_thumbnail: np.ndarray | None = None

    def prime(self, image_bgr: np.ndarray) -> None:
        self._previous_thumbnail = _motion_thumbnail(_analysis_grey(image_bgr))

    def measure(self, image_bgr: np.ndarray) -> dict[str, float]:
        """Return the raw statistics behind the tags, and advance the motion reference."""
        grey = _grey(image_bgr)
        analysis = _shrunk(grey, ANALYSIS_WIDTH)
        hist = measures.luminance_histogram(analysis)
        contrast = measures.rms_contrast(analysis)
        thumbnail = _motion_thumbnail(analysis)

        changed = 0.0
        if self._previous_thumbnail is not None and self._previous_thumbnail.shape == thumbnail.shape:
            changed = measures.changed_fraction(thumbnail, self._previous_thumbnail, MOTION_PIXEL_DIFFERENCE)
        self._previous_thumbnail = thumbnail

        return {
            "median": measures.percentile_from_histogram(hist, 0.5),
            "clipped": measures.saturated_fraction(hist, CLIPPED_LEVEL),
            "focus": measures.focus_ratio(analysis, contrast),
            "tenengrad": measures.tenengrad(analysis),
            "contrast": contrast,
            # Converting to grey is per pixel, so cropping the grey frame
            # equals converting the crop.
            "noise_sigma": measures.noise_sigma(_centre_crop(grey, *NOISE_CROP)),
            "changed": changed,
        }

    def tag(self, image_bgr: np.ndarray) -> dict[str, TagValue]:
        """Return every built-in tag for ``image_bgr`` (a BGR or grey ``uint8`` frame)."""
        height, width = image_bgr.shape[:2]
        stats = self.measure(image_bgr)
        blur = classify_blur(stats["focus"])
        sharp = blur == "not_blurry" and stats["tenengrad"] >= SHARP_TENENGRAD_MIN

        return {
            "aspect_ratio": aspect_ratio(width, height),
            "image_width": int(width),
            "image_height": int(height),
            "lighting": classify_lighting(stats["median"], stats["clipped"]),
            "blur": blur,
            "sharpness": "sharp" if sharp else "not_sharp",
            "contrast": classify_contrast(stats["contrast"]),
            "noise": "noisy" if stats["noise_sigma"] >= NOISY_SIGMA_FROM else "clear",
            "glare": classify_glare(stats["clipped"]),
            "motion_detected": bool(stats["changed"] >= MOTION_CHANGED_FRACTION),
        }
