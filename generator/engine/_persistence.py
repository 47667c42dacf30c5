"""Pickle-free files of a fitted engine.

A model directory contains three files:

- `engine.json`: format, hyperparameters, seed, columns with their categories, losses.
- `engine_arrays.npz`: mixture means and standard deviations, category counts. It is read with
  allow_pickle=False.
- `generator.pt`: the generator's state_dict. It is read with weights_only=True.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from generator.errors import ArtifactIntegrityError, LongtailInputError

FORMAT_NAME = "longtail.ctgan-engine"
FORMAT_VERSION = 1
METADATA_FILE = "engine.json"
ARRAYS_FILE = "engine_arrays.npz"
WEIGHTS_FILE = "generator.pt"

# Errors that reading a damaged, truncated or foreign artifact raises. LongtailInputError comes from
# invalid hyperparameters and RuntimeError from a state_dict that does not fit the generator.
READ_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    RuntimeError,
    pickle.UnpicklingError,
    LongtailInputError,
)


@dataclass(frozen=True)
class Artifact:
    metadata: dict
    arrays: dict[str, np.ndarray]
    weights: dict[str, torch.Tensor]


def write_artifact(directory: Path, artifact: Artifact) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **artifact.metadata}
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    np.savez(directory / ARRAYS_FILE, **artifact.arrays)
    torch.save(artifact.weights, directory / WEIGHTS_FILE)


def read_artifact(directory: Path) -> Artifact:
    """Read the three files; raise ArtifactIntegrityError if one is missing, malformed or foreign."""
    directory = Path(directory)
    try:
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        _check_format(metadata)
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        weights = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except READ_ERRORS as error:
        raise artifact_error(directory, error) from error

    is_state_dict = isinstance(weights, dict) and all(isinstance(v, torch.Tensor) for v in weights.values())
    if not is_state_dict:
        raise ArtifactIntegrityError(
            f"{directory / WEIGHTS_FILE} does not contain a state_dict of tensors. "
            "Retrain the model or restore the artifact from a copy."
        )
    return Artifact(metadata=metadata, arrays=arrays, weights=weights)


def artifact_error(directory: Path, error: BaseException) -> ArtifactIntegrityError:
    # torch's errors run to many lines of advice that does not apply here; the first two lines name the cause.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = " ".join(lines[:2])[:300]
    return ArtifactIntegrityError(
        f"The engine artifact in {directory} cannot be loaded ({type(error).__name__}: {reason}). "
        "Retrain the model or restore the artifact from a copy."
    )


def _check_format(metadata: object) -> None:
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{METADATA_FILE} is not a {FORMAT_NAME} file")
    if metadata.get("format_version") != FORMAT_VERSION:
        version = metadata.get("format_version")
        raise ValueError(f"format version {version!r} is not supported, only version {FORMAT_VERSION} is")
