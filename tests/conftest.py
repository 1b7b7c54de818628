"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = REPO_ROOT.parent / "shared" / "videos"
DEMO_VIDEO = REPO_ROOT / "tests" / "data" / "videos" / "vtest.avi"


def shared_video(name: str) -> Path:
    """Path of a clip in the shared corpus; skips the test when the corpus is absent."""
    path = SHARED_VIDEOS / name
    if not path.is_file():
        pytest.skip(f"shared video corpus not available: {path}")
    return path


@pytest.fixture(scope="session")
def demo_video() -> Path:
    """The committed demo clip (vtest.avi, fixed surveillance camera)."""
    assert DEMO_VIDEO.is_file(), f"demo video missing from the repository: {DEMO_VIDEO}"
    return DEMO_VIDEO
