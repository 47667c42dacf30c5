"""Loaded models, shared by the request threads.

Loading a model reads and verifies its artifact, so loaded models are kept in
a small LRU cache. Sampling from one model is serialised by a lock per model
version: torch's global random state makes two concurrent seeded calls on one
process interfere, and a seed must give the same rows whatever else runs.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from generator.registry import Registry
from generator.errors import ModelNotFoundError

logger = logging.getLogger(__name__)


class ModelService:
    """The registry and an LRU cache of loaded models."""

    def __init__(self, registry_dir: Path, *, hmac_key: bytes | None = None, cache_size: int = 4):
        self.registry = Registry(registry_dir, hmac_key=hmac_key)
        self.cache_size = cache_size
        self._models: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._model_locks: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()

    def resolve_version(self, model_id: str, version: int | None) -> int:
        """Return `version`, or the latest version of the model; raise ModelNotFoundError when there is none."""
        manifest = self.registry.manifest(model_id, version)
        resolved = manifest.get("version", version)
        if resolved is None:
            raise ModelNotFoundError(f"model {model_id!r} has no version in its manifest")
        return int(resolved)

    def load(self, model_id: str, version: int | None) -> tuple[Any, int, threading.Lock]:
        """Return a loaded model, its version and the lock that serialises sampling from it."""
        resolved = self.resolve_version(model_id, version)
        key = (model_id, resolved)

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
                logger.info("model %s version %s loaded", model_id, resolved)
                with self._lock:
                    self._models[key] = model
                    while len(self._models) > self.cache_size:
                        evicted, _ = self._models.popitem(last=False)
                        logger.info("model %s version %s evicted from the cache", *evicted)

        return model, resolved, lock
