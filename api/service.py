"""Loaded models, shared by the request threads.

Loading a model reads and verifies its artifact, so loaded models are kept in
a small LRU cache. The cache key includes the SHA-256 of the version's
`checksums.json`, read on every request, so a model that was deleted and
retrained under the same id and version is loaded again instead of served
from the cache. Sampling from one model is serialised by a lock per loaded
artifact: torch's global random state makes two concurrent seeded calls on
one process interfere, and a seed must give the same rows whatever else runs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from generator.errors import ModelNotFoundError
from generator.registry import CHECKSUMS, Registry

logger = logging.getLogger(__name__)

# (model id, version, SHA-256 of the version's checksums.json or "" when it is unreadable)
CacheKey = tuple[str, int, str]


class ModelService:
    """The registry and an LRU cache of loaded models."""

    def __init__(self, registry_dir: Path, *, hmac_key: bytes | None = None, cache_size: int = 4):
        self.registry = Registry(registry_dir, hmac_key=hmac_key)
        self.cache_size = cache_size
        self._models: OrderedDict[CacheKey, Any] = OrderedDict()
        self._model_locks: dict[CacheKey, threading.Lock] = {}
        self._lock = threading.Lock()

    def resolve_version(self, model_id: str, version: int | None) -> int:
        """Return `version`, or the latest version of the model; raise ModelNotFoundError when there is none."""
        manifest = self.registry.manifest(model_id, version)
        resolved = manifest.get("version", version)
        if resolved is None:
            raise ModelNotFoundError(f"model {model_id!r} has no version in its manifest")
        return int(resolved)

    def artifact_digest(self, model_id: str, version: int) -> str:
        """Return the SHA-256 of a version's `checksums.json`, or "" when it cannot be read.

        The checksum list names the SHA-256 of every file of the version, so its own digest changes
        whenever any file of the artifact changes. An unreadable list gives "", and loading then raises
        ArtifactIntegrityError.
        """
        path = self.registry.resolve(model_id, version).path / CHECKSUMS
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return ""

    def load(self, model_id: str, version: int | None) -> tuple[Any, int, threading.Lock]:
        """Return a loaded model, its version and the lock that serialises sampling from it."""
        resolved = self.resolve_version(model_id, version)
        key = (model_id, resolved, self.artifact_digest(model_id, resolved))

        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model, resolved, self._model_locks[key]
            lock = self._model_locks.setdefault(key, threading.Lock())

        # Load outside the cache lock, under the model's own lock, so that one slow load does not block
        # requests for other models and two requests for the same model load it once.
        with lock:
            with self._lock:
                model = self._models.get(key)
            if model is None:
                model = self.registry.load(model_id, resolved)
                logger.info("model %s version %s loaded (checksums.json sha256 %s)", model_id, resolved, key[2][:12])
                self._store(key, model)

        return model, resolved, lock

    def _store(self, key: CacheKey, model: Any) -> None:
        """Cache a loaded model, dropping older artifacts of the same version and the least recently used models."""
        model_id, version, _ = key
        with self._lock:
            stale = [cached for cached in self._models if cached[:2] == (model_id, version) and cached != key]
            for cached in stale:
                self._drop(cached)
                logger.info("model %s version %s changed on disk; the cached copy was dropped", model_id, version)

            self._models[key] = model
            while len(self._models) > self.cache_size:
                evicted = next(iter(self._models))
                self._drop(evicted)
                logger.info("model %s version %s evicted from the cache", *evicted[:2])

    def _drop(self, key: CacheKey) -> None:
        # A request that already holds the lock keeps its reference, so removing it here is safe.
        self._models.pop(key, None)
        self._model_locks.pop(key, None)
