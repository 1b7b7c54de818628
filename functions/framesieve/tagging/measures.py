"""Image-quality statistics on 8-bit greyscale images, each a standard measure from the literature.

Every function takes a 2-D ``uint8`` array (Rec. 601 luma, as
``cv2.COLOR_BGR2GRAY`` produces) and returns plain floats, so the
thresholds in :mod:`framesieve.tagging.builtin` read in grey levels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Immerkær, "Fast Noise Variance Estimation", CVIU 64(2), 1996: the
# difference of two Laplacians, [[1, -2, 1], [-2, 4, -2], [1, -2, 1]],
# which cancels image structure up to second order and leaves the noise.
_SECOND_DIFFERENCE = np.array([1, -2, 1], dtype=np.float32)

# Below this variance (grey levels squared) an image is flat, and a focus
# ratio would divide noise by noise.
_MIN_VARIANCE = 25.0


def luminance_histogram(grey: np.ndarray) -> np.ndarray:
    """256-bin histogram, normalised to sum to 1."""
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def percentile_from_histogram(hist: np.ndarray, fraction: float) -> float:
    """Return the grey level below which ``fraction`` of the pixels lie."""
    cumulative = np.cumsum(hist)
    return float(np.searchsorted(cumulative, fraction))


def saturated_fraction(hist: np.ndarray, level: int = 250) -> float:
    """Fraction of pixels at or above ``level``: clipped highlights."""
    return float(hist[level:].sum())


def rms_contrast(grey: np.ndarray) -> float:
    """Standard deviation of the grey levels (RMS contrast, in grey levels)."""
    _, std = cv2.meanStdDev(grey)
    return float(std[0, 0])


def focus_ratio(grey: np.ndarray, grey_std: float | None = None) -> float:
    """Variance of the Laplacian divided by the image variance.

    The variance of the Laplacian (Pech-Pacheco et al., ICPR 2000) measures
    fine detail, but it also grows with contrast. Dividing by the image
    variance lets a low-contrast scene in focus score as high as a bright one.
    ``grey_std`` is the image's standard deviation when the caller already
    has it (:func:`rms_contrast`).
    """
    laplacian = cv2.Laplacian(grey, cv2.CV_16S, ksize=1)
    _, lap_std = cv2.meanStdDev(laplacian)
    if grey_std is None:
        grey_std = rms_contrast(grey)
    variance = max(grey_std**2, _MIN_VARIANCE)
    return float(lap_std[0, 0]) ** 2 / variance


def tenengrad(grey: np.ndarray) -> float:
    """Mean squared Sobel gradient magnitude (Tenengrad), in grey levels squared."""
    gx = cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3)
    energy = cv2.norm(gx, cv2.NORM_L2SQR) + cv2.norm(gy, cv2.NORM_L2SQR)
    return float(energy) / grey.size


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkær's fast estimate of the standard deviation of Gaussian noise, in grey levels.

    Fine texture also raises it, so it over-reads on foliage or facades.
    """
    height, width = grey.shape[:2]
    if height < 3 or width < 3:
        return 0.0
    # The kernel is the outer product of [1, -2, 1] with itself, so two 1-D
    # passes give the same integers as the 3x3 filter; |response| <= 16 * 255
    # fits in 16 bits.
    response = cv2.sepFilter2D(grey, cv2.CV_16S, _SECOND_DIFFERENCE, _SECOND_DIFFERENCE)[1:-1, 1:-1]
    total = float(cv2.norm(response, cv2.NORM_L1))
    return math.sqrt(math.pi / 2.0) * total / (6.0 * (width - 2) * (height - 2))


def changed_fraction(current: np.ndarray, previous: np.ndarray, min_difference: int) -> float:
    """Fraction of pixels that changed by at least ``min_difference`` grey levels.

    The change in mean brightness between the two images is removed first, so
    auto-exposure steps and lamp flicker do not count as change.
    """
    offset = float(cv2.mean(current)[0]) - float(cv2.mean(previous)[0])
    difference = cv2.subtract(current, previous, dtype=cv2.CV_16S)
    # |difference - offset| >= min_difference, split into its two one-sided
    # tests so the integer image is compared without a float copy.
    changed = np.count_nonzero(difference >= offset + min_difference)
    changed += np.count_nonzero(difference <= offset - min_difference)
    return float(changed) / difference.size
