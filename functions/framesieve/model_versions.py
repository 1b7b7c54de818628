"""Custom model versions in storage: fetch, validate, record, and load for jobs."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import tempfile
import threading
import time
from pathlib import Path

from framesieve import keys
from framesieve.blobs.base import BlobStore
from framesieve.custom_models import CustomModelTagger, ModelInvalid, load_version, split_files
from framesieve.errors import RecordNotFound, VideoError
from framesieve.fetch import FetchPolicy, fetch_to_file
from framesieve.models.settings import ModelSettings
from framesieve.records.base import CustomModel, ModelVersion, RecordStore
from framesieve.settings import Settings

logger = logging.getLogger(__name__)

STATUS_UP = "up"
STATUS_FAILED = "failed"


def model_key_id(model_name: str) -> str:
    """Return a storage id for a model name, so the client's name never enters a key."""
    return hashlib.sha256(model_name.encode("utf-8")).hexdigest()[:16]


def fetch_and_validate(
    settings: Settings,
    blobs: BlobStore,
    customer_id: str,
    project_id: str,
    model_name: str,
    version_name: str,
    file_urls: list[str],
) -> ModelVersion:
    """Download a version's files into blob storage and check that the model runs.

    A bad file or model does not raise: the returned version is ``failed``
    with the reason, so the API can record it. Storage failures do raise.
    """
    version_id = hashlib.sha256(f"{version_name}:{time.time_ns()}".encode()).hexdigest()[:16]
    policy = dataclasses.replace(FetchPolicy.from_settings(settings), max_bytes=settings.max_model_bytes)
    file_keys: list[str] = []
    status, reason, config = STATUS_UP, "", {}

    with tempfile.TemporaryDirectory(prefix="framesieve-model-") as workdir:
        paths = []
        try:
            for position, url in enumerate(file_urls):
                name = url.rstrip("/").rsplit("/", 1)[-1] or f"file{position}"
                path = Path(workdir) / f"{position:03d}-{Path(name).name}"
                fetch_to_file(url, path, policy)
                paths.append(path)

            model_path, config_path = split_files(paths)
            tagger = load_version(model_path, config_path.read_text("utf-8", errors="replace"), ModelSettings.from_env())
            config = tagger.config.to_dict() | {
                "model_file": paths.index(model_path),
                "config_file": paths.index(config_path),
            }
        except (ModelInvalid, VideoError) as exc:
            status, reason = STATUS_FAILED, exc.description.replace("download failed", "model file download failed")

        for position, path in enumerate(paths):
            key = keys.model_file(customer_id, project_id, model_key_id(model_name), version_id, position)
            blobs.put_file(key, path)
            file_keys.append(key)

    logger.info("model version stored model=%s version=%s status=%s reason=%s", model_name, version_name, status, reason)
    return ModelVersion(
        version_name=version_name,
        files=list(file_urls),
        file_keys=file_keys,
        status=status,
        reason=reason,
        created_at=time.time(),
        config=config,
    )


class TaggerCache:
    """Loaded custom model versions, by their file keys, for the life of the process."""

    def __init__(self) -> None:
        self._taggers: dict[tuple[str, ...], CustomModelTagger] = {}
        self._lock = threading.Lock()
        self._workdir = Path(tempfile.mkdtemp(prefix="framesieve-models-"))

    def load(self, blobs: BlobStore, version: ModelVersion) -> CustomModelTagger:
        cache_key = tuple(version.file_keys)
        with self._lock:
            tagger = self._taggers.get(cache_key)
            if tagger is not None:
                return tagger

            folder = self._workdir / hashlib.sha256("|".join(cache_key).encode()).hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
            model_path = folder / "model.onnx"
            blobs.download_file(version.file_keys[version.config["model_file"]], model_path)
            config_text = blobs.get_bytes(version.file_keys[version.config["config_file"]]).decode("utf-8", "replace")
            tagger = load_version(model_path, config_text, ModelSettings.from_env())
            self._taggers[cache_key] = tagger
            return tagger


_cache = TaggerCache()


def active_versions(records: RecordStore, project_id: str) -> list[dict]:
    """The active, validated version of each custom model: what a new job runs."""
    chosen = []
    for model in records.list_custom_models(project_id):
        version = model.versions.get(model.active_version or "")
        if version is not None and version.status == STATUS_UP:
            chosen.append({"model_name": model.model_name, "version_name": version.version_name})
    return chosen


def load_taggers(records: RecordStore, blobs: BlobStore, project_id: str, chosen: list[dict]) -> list[CustomModelTagger]:
    """Taggers for the versions a job's plan chose."""
    taggers = []
    for entry in chosen:
        try:
            model: CustomModel = records.get_custom_model(project_id, entry["model_name"])
        except RecordNotFound:
            continue
        version = model.versions.get(entry["version_name"])
        if version is not None and version.status == STATUS_UP:
            taggers.append(_cache.load(blobs, version))
    return taggers
