"""Run an ONNX model on batches of frames with onnxruntime.

The same runner serves built-in and custom models. It opens an
``InferenceSession`` on the CUDA provider when this onnxruntime build has it
(the ``onnxruntime-gpu`` wheel), else on the CPU. Large inputs are split into
batches of at most ``batch_size`` along the first axis.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from framesieve.models.settings import ModelSettings

logger = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def select_providers() -> list[str]:
    """CUDA first when onnxruntime offers it, the CPU always as the fallback."""
    available = ort.get_available_providers()
    if CUDA_PROVIDER in available:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


class OnnxModel:
    """One ONNX model loaded in an ``InferenceSession``.

    ``InferenceSession.run`` is safe to call from several threads, so one
    instance can serve every segment of a process.
    """

    def __init__(self, path: Path, settings: ModelSettings) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = settings.threads
        options.log_severity_level = 3

        self.path = Path(path)
        self.batch_size = settings.batch_size
        self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=select_providers())
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]

        # A model exported with a fixed batch of 1 (BlazeFace from TFLite)
        # has to be fed one frame at a time.
        first_dimension = self.session.get_inputs()[0].shape[0] if self.session.get_inputs()[0].shape else None
        self.max_batch = 1 if first_dimension == 1 else self.batch_size

        logger.info(
            "model loaded: %s providers=%s batch=%d threads=%d",
            self.path.name, self.session.get_providers(), self.max_batch, settings.threads,
        )

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model's single input on ``batch`` (frames along axis 0); return every output, concatenated.

        An empty batch returns an empty list.
        """
        if len(self.input_names) != 1:
            raise ValueError(f"{self.path.name} has inputs {self.input_names}; run() feeds exactly one")
        if len(batch) == 0:
            return []

        chunks: list[list[np.ndarray]] = []
        for start in range(0, len(batch), self.max_batch):
            feed = {self.input_names[0]: batch[start:start + self.max_batch]}
            chunks.append(self.session.run(self.output_names, feed))

        return [np.concatenate([chunk[i] for chunk in chunks], axis=0) for i in range(len(self.output_names))]


_loaded: dict[tuple[Path, ModelSettings], OnnxModel] = {}
_loading = threading.Lock()


def shared_model(path: Path, settings: ModelSettings) -> OnnxModel:
    """Return the process-wide ``OnnxModel`` for ``path`` and ``settings``, loading it on first use."""
    key = (Path(path).resolve(), settings)
    with _loading:
        model = _loaded.get(key)
        if model is None:
            model = OnnxModel(key[0], settings)
            _loaded[key] = model
    return model
