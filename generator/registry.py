"""The model registry: `<root>/<model-id>/<version>/` folders with a manifest.

Registration writes a model into a staging folder and renames it into place,
so a failed or cancelled training never leaves a visible version. Every file
of a version is listed with its SHA-256 in `checksums.json`, which is signed
with HMAC-SHA256 when the registry has a key. Loading and reading a manifest
verify both first. The artifact is pickle-free (JSON, Parquet, NumPy and torch weights
loaded with `weights_only=True`), so loading never runs code from a file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from generator.errors import ArtifactIntegrityError, LongtailError, LongtailInputError, ModelNotFoundError
from generator.model import LongtailModel

logger = logging.getLogger(__name__)

MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Names the service keeps in the registry folder beside the models.
RESERVED_MODEL_IDS = frozenset({"uploads", "jobs.sqlite3", "jobs.sqlite3-journal", "jobs.sqlite3-wal", "jobs.sqlite3-shm"})
CHECKSUMS = "checksums.json"
STAGING_PREFIX = ".staging-"


@dataclass(frozen=True)
class ModelRef:
    model_id: str
    version: int
    path: Path


def validate_model_id(model_id: str) -> str:
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.match(model_id) or ".." in model_id:
        raise LongtailInputError(
            f"Invalid model id {model_id!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    if model_id.lower() in RESERVED_MODEL_IDS or model_id.lower().endswith((".sqlite3", ".sqlite", ".db")):
        raise LongtailInputError(f"Invalid model id {model_id!r}: the registry folder uses that name for its own files. Choose another id.")
    return model_id


class Registry:
    """Versioned models under one root folder."""

    def __init__(self, root: str | Path, hmac_key: bytes | None = None):
        self.root = Path(root)
        self.hmac_key = hmac_key

    def register(self, model: LongtailModel, model_id: str) -> ModelRef:
        """Write `model` as the next version of `model_id`, atomically."""
        validate_model_id(model_id)
        folder = self.root / model_id
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        try:
            for _ in range(100):
                version = self._next_version(folder)
                model.manifest["model_id"] = model_id
                model.manifest["version"] = version
                if staging.exists():
                    shutil.rmtree(staging)
                model.save(staging)
                self._write_checksums(staging)
                try:
                    os.rename(staging, folder / str(version))
                except OSError:
                    continue  # another process took this version first
                logger.info("Registered model %s version %d at %s", model_id, version, folder / str(version))
                return ModelRef(model_id, version, folder / str(version))
            raise LongtailError(f"Could not register model {model_id!r}: 100 versions were taken concurrently.")
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def versions(self, model_id: str) -> list[int]:
        folder = self.root / validate_model_id(model_id)
        if not folder.is_dir():
            return []
        return sorted(int(path.name) for path in folder.iterdir() if path.is_dir() and path.name.isdigit())

    def resolve(self, model_id: str, version: int | None = None) -> ModelRef:
        versions = self.versions(model_id)
        if not versions:
            known = [summary["model_id"] for summary in self.list_models()]
            raise ModelNotFoundError(f"Model {model_id!r} not found in the registry. Known models: {known}.")
        if version is not None and (isinstance(version, bool) or not str(version).isdigit()):
            raise ModelNotFoundError(f"Invalid version {version!r} of model {model_id!r}: versions are positive integers, here {versions}.")
        chosen = versions[-1] if version is None else int(version)
        if chosen not in versions:
            raise ModelNotFoundError(f"Model {model_id!r} has no version {version}; versions are {versions}.")
        return ModelRef(model_id, chosen, self.root / model_id / str(chosen))

    def list_models(self) -> list[dict]:
        """Return each model id with its versions and the latest manifest's summary."""
        if not self.root.is_dir():
            return []
        summaries = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or not MODEL_ID_PATTERN.match(folder.name) or folder.name in RESERVED_MODEL_IDS:
                continue
            versions = self.versions(folder.name)
            if not versions:
                continue
            try:
                manifest = self.manifest(folder.name, versions[-1])
            except ArtifactIntegrityError as error:
                logger.warning("Skipping model %s in the listing: %s", folder.name, error)
                continue
            summaries.append({"model_id": folder.name, "versions": versions, "latest": summarize_manifest(manifest)})
        return summaries

    def manifest(self, model_id: str, version: int | None = None) -> dict:
        """Return a version's manifest after verifying the version's checksums."""
        ref = self.resolve(model_id, version)
        self.verify(ref)
        try:
            return json.loads((ref.path / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ArtifactIntegrityError(f"Manifest of model {model_id!r} version {ref.version} is unreadable: {error}") from None

    def load(self, model_id: str, version: int | None = None) -> LongtailModel:
        """Verify a version's checksums (and HMAC) and load it."""
        ref = self.resolve(model_id, version)
        self.verify(ref)
        try:
            model = LongtailModel.load(ref.path)
        except ArtifactIntegrityError:
            raise
        except (LongtailInputError, OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
            raise ArtifactIntegrityError(
                f"Model {model_id!r} version {ref.version} passed its checksums but could not be loaded: {error}. "
                "Retrain it; the library versions may differ from those in its manifest."
            ) from None
        logger.info("Loaded model %s version %d", model_id, ref.version)
        return model

    def verify(self, ref: ModelRef) -> None:
        """Raise ArtifactIntegrityError unless every file matches the signed checksum list."""
        where = f"model {ref.model_id!r} version {ref.version}"
        listing_path = ref.path / CHECKSUMS
        try:
            listing = json.loads(listing_path.read_text(encoding="utf-8"))
            files = listing["files"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            raise ArtifactIntegrityError(f"The checksum list of {where} is missing or corrupted; the artifact cannot be trusted. Retrain it.") from None

        if self.hmac_key is not None:
            expected = hmac.new(self.hmac_key, _canonical(files), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, str(listing.get("hmac", ""))):
                raise ArtifactIntegrityError(f"The HMAC of {where} does not match this server's key: it was not written by this registry or was altered.")

        present = {str(path.relative_to(ref.path)) for path in ref.path.rglob("*") if path.is_file()} - {CHECKSUMS}
        if present != set(files):
            raise ArtifactIntegrityError(
                f"Files of {where} differ from its checksum list: unexpected {sorted(present - set(files))}, "
                f"missing {sorted(set(files) - present)}. Retrain it."
            )
        for name, digest in files.items():
            if _sha256(ref.path / name) != digest:
                raise ArtifactIntegrityError(f"File {name} of {where} is corrupted or was modified (SHA-256 mismatch). Retrain it.")

    def _write_checksums(self, directory: Path) -> None:
        files = {str(path.relative_to(directory)): _sha256(path) for path in sorted(directory.rglob("*")) if path.is_file()}
        listing: dict = {"algorithm": "sha256", "files": files}
        if self.hmac_key is not None:
            listing["hmac"] = hmac.new(self.hmac_key, _canonical(files), hashlib.sha256).hexdigest()
        (directory / CHECKSUMS).write_text(json.dumps(listing, indent=1), encoding="utf-8")

    @staticmethod
    def _next_version(folder: Path) -> int:
        taken = [int(path.name) for path in folder.iterdir() if path.is_dir() and path.name.isdigit()]
        return max(taken, default=0) + 1


def summarize_manifest(manifest: dict) -> dict:
    fidelity = manifest.get("fidelity") or {}
    return {
        "version": manifest.get("version"),
        "created_at": manifest.get("created_at"),
        "label": (manifest.get("schema") or {}).get("columns") and next(
            (name for name, spec in manifest["schema"]["columns"].items() if spec.get("role") == "label"), None
        ),
        "minority": (manifest.get("minority") or {}).get("values"),
        "mode": (manifest.get("minority") or {}).get("mode"),
        "training_rows": (manifest.get("data") or {}).get("training_rows"),
        "epochs": (manifest.get("settings") or {}).get("epochs"),
        "overall_score": (fidelity.get("scores") or {}).get("overall"),
    }


def _canonical(files: dict) -> bytes:
    return json.dumps(files, sort_keys=True, separators=(",", ":")).encode()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
