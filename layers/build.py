"""Build the Lambda layer folders that ``cdk deploy`` uploads, without Docker.

pip downloads manylinux wheels for the Lambda runtime's platform (CPython
3.12 on x86_64, glibc 2.34 on Amazon Linux 2023) and unpacks them into
``layers/dist/<name>/python``, the folder layout Lambda adds to ``sys.path``.
Only binary wheels are accepted, so nothing is compiled for the build host
by mistake.

Usage: ``python layers/build.py [--name api] [--clean]``
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger("layers.build")

LAYERS_DIR = Path(__file__).resolve().parent
DIST_DIR = LAYERS_DIR / "dist"
LAYER_NAMES = ("api",)

PYTHON_VERSION = "3.12"
# Lambda's python3.12 runtime runs on Amazon Linux 2023, whose glibc 2.34
# loads wheels tagged for any manylinux up to 2_34.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")

# Lambda rejects a function whose code and layers unpack to more than
# 250 MB (262 144 000 bytes); leave room for the function code.
MAX_LAYER_BYTES = 230 * 1000 * 1000

# Folders that no import at run time needs.
PRUNED_DIRS = ("tests", "__pycache__", "include")


def layer_dir(name: str) -> Path:
    """Return the folder of the built layer ``name``, whose ``python`` child is the layer content."""
    return DIST_DIR / name


def pip_command(requirements: Path, target: Path) -> list[str]:
    command = [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(requirements),
        "--target", str(target),
        "--implementation", "cp",
        "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    return command


def prune(root: Path) -> None:
    """Delete test suites, C headers and bytecode caches of the installed packages."""
    for name in PRUNED_DIRS:
        for path in sorted(root.rglob(name), reverse=True):
            if path.is_dir():
                shutil.rmtree(path)


def tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def build(name: str) -> Path:
    """Install ``requirements-<name>.txt`` into ``dist/<name>/python`` and return the layer folder."""
    requirements = LAYERS_DIR / f"requirements-{name}.txt"
    if not requirements.is_file():
        raise FileNotFoundError(f"layer {name!r} has no requirements file: {requirements}")

    output = layer_dir(name)
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    target = staging / "python"
    target.mkdir(parents=True)

    logger.info("layer build started: name=%s requirements=%s", name, requirements)
    subprocess.run(pip_command(requirements, target), check=True)
    prune(target)

    size = tree_bytes(target)
    if size > MAX_LAYER_BYTES:
        raise RuntimeError(
            f"layer {name!r} unpacks to {size / 1e6:.0f} MB, more than the {MAX_LAYER_BYTES / 1e6:.0f} MB "
            "that fits beside the function code in Lambda's 250 MB limit; drop a requirement "
            f"from {requirements.name} or move the function to a container image"
        )

    # Swap in the finished build only now, so an interrupted build never
    # leaves a half-filled layer that cdk deploy would upload.
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    logger.info("layer build finished: name=%s size_mb=%.1f path=%s", name, size / 1e6, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build Lambda layer folders under layers/dist without Docker.")
    parser.add_argument("--name", choices=LAYER_NAMES, action="append", help="layer to build (default: all)")
    parser.add_argument("--clean", action="store_true", help="delete layers/dist before building")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    if args.clean:
        shutil.rmtree(DIST_DIR, ignore_errors=True)

    for name in args.name or LAYER_NAMES:
        build(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
