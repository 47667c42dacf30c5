"""Audit a trained model: fetch its training data, sample its minority rows, and run the audit.

`longtail audit` and the audit API job both call `run_model_audit`, so that the
same model, holdout and seed give the same numbers from either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from generator.audit import _inputs
from generator.audit._run import DEFAULT_MAX_PRIVACY_ROWS, DEFAULT_MAX_ROWS, AuditProgress, run_audit
from generator.audit.report import write_report
from generator.errors import InvalidDataError, PlanError
from generator.loading import apply_schema, load_table
from generator.model import LongtailModel, data_fingerprint
from generator.schema import Role

logger = logging.getLogger(__name__)

AUDIT_SEEDS = 3


@dataclass
class ModelAuditResult:
    """The report of one model audit and, when an output folder was given, where it was written."""

    report: dict
    json_path: Path | None
    html_path: Path | None


def run_model_audit(
    model: LongtailModel,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame | None = None,
    n: int | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    progress: Callable[[AuditProgress], None] | None = None,
    *,
    train: pd.DataFrame | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_privacy_rows: int = DEFAULT_MAX_PRIVACY_ROWS,
    sampling_strategy: float = 0.5,
    iterations: int = 100,
    threads: int | None = 1,
) -> ModelAuditResult:
    """Audit `model` against a real `holdout` table, raw as `load_table` returns it, with all its classes.

    The synthetic rows are `synthetic` when given, else `n` rows sampled from
    the model with `seed`. By default `n` is three times the rows that the
    utility test adds, so that each of its three seeds draws its own subset.
    The training data is `train` when given, else the file recorded in
    the model's manifest, whose fingerprint must still match. The audit uses
    seeds `seed`, `seed + 1` and `seed + 2`. Writes `audit.json` and
    `audit.html` into `out_dir` when it is given.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= 2**32 - 3:
        raise InvalidDataError(f"The audit seed must be an integer from 0 to {2**32 - 3}, because it also uses the next two seeds; got {seed!r}.")
    schema = model.schema
    column_types = audit_column_types(model)
    train_raw = train if train is not None else load_training_data(model)
    expected = (model.manifest.get("data") or {}).get("fingerprint")
    if train is not None and expected and data_fingerprint(train) != expected:
        raise InvalidDataError(
            f"The training data given does not match model {model.model_id!r}: its fingerprint is "
            f"{data_fingerprint(train)}, the manifest records {expected}. Pass the file the model was trained on."
        )
    _inputs.check_columns(holdout, column_types, "holdout")
    train_typed = apply_schema(train_raw, schema, origin="training data")
    holdout_typed = apply_schema(holdout, schema, origin="holdout")
    seeds = tuple(seed + offset for offset in range(AUDIT_SEEDS))

    if synthetic is None:
        _check_holdout(train_typed, holdout_typed, model)
        needed = _rows_needed(train_typed, model, max_rows, sampling_strategy, seeds[0])
        synthetic = sample_minority(model, needed, n if n is not None else sum(needed.values()) * len(seeds), seed)
        source = "model"
    else:
        _inputs.check_columns(synthetic, column_types, "synthetic rows")
        source = "file"
    synthetic_typed = apply_schema(synthetic, schema, origin="synthetic rows")

    report = run_audit(
        train_typed, holdout_typed, synthetic_typed, label=schema.label, minority_values=model.minority_values,
        column_types=column_types, seeds=seeds, max_rows=max_rows, max_privacy_rows=max_privacy_rows,
        sampling_strategy=sampling_strategy, iterations=iterations, threads=threads, progress=progress,
    )
    report["model"] = {
        "model_id": model.model_id,
        "version": model.manifest.get("version"),
        "fingerprint": model.manifest.get("data", {}).get("fingerprint"),
        "synthetic_source": source,
        "seed": seed,
    }
    if out_dir is None:
        return ModelAuditResult(report, None, None)
    json_path, html_path = write_report(report, out_dir)
    return ModelAuditResult(report, json_path, html_path)


def audit_column_types(model: LongtailModel) -> dict[str, str]:
    """Map every schema column to its audit column type, which is its role's name."""
    return {name: spec.role.value for name, spec in model.schema.columns.items()}


def load_training_data(model: LongtailModel) -> pd.DataFrame:
    """Load the data file recorded in the model's manifest, checking it against the recorded fingerprint."""
    data = model.manifest.get("data") or {}
    source = data.get("source")
    if not source:
        raise InvalidDataError(
            f"Model {model.model_id!r} records no training data file, so the audit cannot compare against it. "
            "Pass the training data explicitly (run_model_audit(..., train=frame))."
        )
    if not Path(source).is_file():
        raise InvalidDataError(
            f"The training data file {source!r} recorded in the manifest of model {model.model_id!r} is not found from "
            f"{Path.cwd()}. Pass the training data with --train (run_model_audit(..., train=frame) in Python)."
        )
    frame = load_table(source, model.schema.source)
    fingerprint = data_fingerprint(frame)
    if fingerprint != data.get("fingerprint"):
        raise InvalidDataError(
            f"The training data file {source} of model {model.model_id!r} changed since training: its fingerprint is "
            f"{fingerprint}, the manifest records {data.get('fingerprint')}. Restore the file or retrain the model."
        )
    return frame


def sample_minority(model: LongtailModel, needed: dict[str, int], n: int, seed: int) -> pd.DataFrame:
    """Sample `n` minority rows from `model`, shared among the minority values in proportion to `needed`.

    Raises PlanError when `n` is under the total of `needed`, because the
    utility test could not reach the target balance.
    """
    total = sum(needed.values())
    if n < total:
        raise PlanError(
            f"-n {n} synthetic rows are too few: the utility test needs {total} ({needed}) to bring the training data "
            "to the target balance. Pass at least that many, or omit -n."
        )
    counts = _scale(needed, n)

    # Real user ids keep the user activity feature meaningful; minted ids would all have no training history.
    user_ids = "real" if model.schema.column_of_role(Role.USER_KEY) else "new"
    value_seeds = np.random.SeedSequence(seed).generate_state(len(counts))
    batches = []
    for index, (value, count) in enumerate(sorted(counts.items())):
        result = model.sample(
            count, conditions={model.schema.label: value}, seed=int(value_seeds[index]), user_ids=user_ids, max_rows=count
        )
        batches.append(result.rows)
    logger.info("Sampled %s synthetic minority rows from model %s for an audit", counts, model.model_id)
    return pd.concat(batches, ignore_index=True)


def _check_holdout(train: pd.DataFrame, holdout: pd.DataFrame, model: LongtailModel) -> None:
    # The same checks run_audit makes, made before sampling so that a bad holdout fails fast.
    label = model.schema.label
    types = _inputs.check_column_types(audit_column_types(model), label)
    holdout = _inputs.normalize(holdout, types, "holdout")
    _inputs.check_minority_rows(holdout, label, model.minority_values, "holdout")
    _inputs.check_no_overlap(_inputs.normalize(train, types, "training data"), holdout)


def _rows_needed(train: pd.DataFrame, model: LongtailModel, max_rows: int, sampling_strategy: float, seed: int) -> dict[str, int]:
    # The same subsample that run_audit draws, so the counts match its utility test.
    label = model.schema.label
    types = _inputs.check_column_types(audit_column_types(model), label)
    typed = _inputs.normalize(train, types, "training data")
    mask = _inputs.minority_mask(typed, label, model.minority_values)
    subsample = _inputs.stratified_subsample(typed, mask, max_rows, seed)
    return _inputs.synthetic_rows_needed(
        subsample, label=label, minority_values=model.minority_values, sampling_strategy=sampling_strategy
    )


def _scale(needed: dict[str, int], n: int) -> dict[str, int]:
    total = sum(needed.values())
    counts = {value: count * n // total for value, count in needed.items()}
    largest = max(needed, key=needed.__getitem__)
    counts[largest] += n - sum(counts.values())
    return counts
