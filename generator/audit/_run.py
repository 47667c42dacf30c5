"""The audit itself: checks, subsampling, and the four sections of the report."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata

import pandas as pd
from threadpoolctl import threadpool_limits

from generator.audit import _inputs
from generator.audit.detection import evaluate_detection
from generator.audit.features import FeatureEncoder
from generator.audit.privacy import evaluate_privacy
from generator.audit.quality import evaluate_quality
from generator.audit.summary import compare_strategies
from generator.audit.utility import STRATEGIES, evaluate_utility
from generator.errors import InvalidDataError, PlanError

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
DEFAULT_MAX_ROWS = 20_000
DEFAULT_MAX_PRIVACY_ROWS = 5_000
LIBRARIES = ("sdmetrics", "scikit-learn", "imbalanced-learn", "pandas", "numpy")


@dataclass(frozen=True)
class AuditProgress:
    """One finished step of an audit: `completed` of `total` steps are done after `stage`."""

    stage: str
    completed: int
    total: int


def run_audit(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic_minority: pd.DataFrame,
    *,
    label: str,
    minority_values: list[str],
    column_types: dict[str, str],
    seeds: tuple[int, ...] = (0, 1, 2),
    max_rows: int = DEFAULT_MAX_ROWS,
    max_privacy_rows: int = DEFAULT_MAX_PRIVACY_ROWS,
    sampling_strategy: float = 0.5,
    iterations: int = 100,
    threads: int | None = 1,
    progress: Callable[[AuditProgress], None] | None = None,
) -> dict:
    """Audit synthetic minority rows against real data and return the report as a JSON-serialisable dict.

    `train` is the real data the model learned from, `holdout` real rows it
    never saw (all classes), and `synthetic_minority` the model's rows, all with
    the same columns. `column_types` maps every column to 'numerical',
    'datetime', 'categorical', 'boolean', 'user_key' or 'item_key'; the label
    may be left out. `sampling_strategy` is the minority-to-majority ratio that
    every rebalancing strategy reaches.

    Cost is bounded by subsampling, drawn from `seeds[0]`. The utility test uses
    at most `max_rows` training and `max_rows` holdout rows, stratified by
    class. Quality and detection compare at most `max_rows` real and synthetic
    minority rows. DCR compares at most `max_privacy_rows` synthetic and
    holdout rows with as many training minority rows. The report records the
    rows used.

    `threads` caps the OpenMP and BLAS threads of the classifiers (None: no
    cap). The default is 1 because the audit fits many small models, and
    OpenMP threads that busy-wait on a shared CPU made each fit up to 80 times
    slower on a loaded 2-core machine.

    Raises SchemaError when the columns differ, InvalidDataError when the
    holdout shares rows with `train` or lacks minority rows, and PlanError when
    `synthetic_minority` has too few rows for the utility test.
    """
    _check_settings(seeds, max_rows, max_privacy_rows, sampling_strategy, iterations)
    with threadpool_limits(limits=threads):
        report = _audit(
            train, holdout, synthetic_minority, label=label, minority_values=minority_values, column_types=column_types,
            seeds=tuple(seeds), max_rows=max_rows, max_privacy_rows=max_privacy_rows,
            sampling_strategy=sampling_strategy, iterations=iterations, progress=progress,
        )
    logger.info(
        "Audit finished: %d training, %d holdout, %d synthetic rows",
        report["data"]["train_rows"], report["data"]["holdout_rows"], report["data"]["synthetic_rows"],
    )
    return report


def _audit(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic_minority: pd.DataFrame,
    *,
    label: str,
    minority_values: list[str],
    column_types: dict[str, str],
    seeds: tuple[int, ...],
    max_rows: int,
    max_privacy_rows: int,
    sampling_strategy: float,
    iterations: int,
    progress: Callable[[AuditProgress], None] | None,
) -> dict:
    types = _inputs.check_column_types(column_types, label)
    train, holdout, synthetic = _typed_inputs(train, holdout, synthetic_minority, types, label, minority_values)
    seed = seeds[0]
    steps = _Steps(progress, total=3 + len(seeds) * (1 + len(STRATEGIES)))

    utility_train = _inputs.stratified_subsample(train, _inputs.minority_mask(train, label, minority_values), max_rows, seed)
    utility_holdout = _inputs.stratified_subsample(
        holdout, _inputs.minority_mask(holdout, label, minority_values), max_rows, seed
    )
    needed = _check_synthetic_count(utility_train, synthetic, label, minority_values, sampling_strategy)
    real_minority = _minority(train, label, minority_values)
    holdout_minority = _minority(holdout, label, minority_values)
    quality_real = _inputs.subsample(real_minority, max_rows, seed)
    quality_synthetic = _inputs.subsample(synthetic, max_rows, seed)
    encoder = FeatureEncoder(types).fit(train)
    steps.done("checks")

    sections = evaluate_quality(quality_real, quality_synthetic, types)
    steps.done("quality")
    detection = evaluate_detection(
        quality_real, quality_synthetic, holdout_minority, encoder=encoder, seeds=seeds, iterations=iterations,
        on_step=lambda: steps.done("detection"),
    )
    privacy = evaluate_privacy(
        _inputs.subsample(real_minority, max_privacy_rows, seed),
        _inputs.subsample(synthetic, max_privacy_rows, seed),
        _inputs.subsample(holdout_minority, max_privacy_rows, seed),
        types,
        train_hashes=_inputs.row_hashes(train),
    )
    steps.done("privacy")
    utility = evaluate_utility(
        utility_train, utility_holdout, synthetic, encoder=encoder, label=label, minority_values=minority_values,
        needed=needed, sampling_strategy=sampling_strategy, seeds=seeds, iterations=iterations,
        on_step=lambda: steps.done("utility"),
    )

    report = {
        "report_version": REPORT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_versions": {name: metadata.version(name) for name in LIBRARIES},
        "settings": {
            "label": label,
            "minority_values": list(minority_values),
            "column_types": types,
            "seeds": list(seeds),
            "max_rows": max_rows,
            "max_privacy_rows": max_privacy_rows,
            "sampling_strategy": sampling_strategy,
            "iterations": iterations,
        },
        "data": {
            "train_rows": len(train),
            "train_minority_rows": len(real_minority),
            "holdout_rows": len(holdout),
            "holdout_minority_rows": len(holdout_minority),
            "synthetic_rows": len(synthetic),
            "utility_train_rows": len(utility_train),
            "utility_holdout_rows": len(utility_holdout),
            "quality_real_rows": len(quality_real),
            "quality_synthetic_rows": len(quality_synthetic),
            "synthetic_rows_used": needed,
        },
        **sections,
        "detection": detection,
        "privacy": privacy,
        "utility": utility,
        "summary": compare_strategies(utility),
    }
    return _json_safe(report)


class _Steps:
    def __init__(self, progress: Callable[[AuditProgress], None] | None, total: int):
        self.progress = progress
        self.total = total
        self.completed = 0

    def done(self, stage: str) -> None:
        self.completed += 1
        if self.progress is not None:
            self.progress(AuditProgress(stage=stage, completed=self.completed, total=self.total))


def _check_settings(
    seeds: tuple[int, ...], max_rows: int, max_privacy_rows: int, sampling_strategy: float, iterations: int
) -> None:
    if not seeds:
        raise PlanError("seeds is empty; pass at least one seed, for example seeds=(0, 1, 2).")
    if max_rows < 100 or max_privacy_rows < 100:
        raise PlanError(
            f"max_rows={max_rows} and max_privacy_rows={max_privacy_rows} must each be at least 100 for stable figures."
        )
    if not 0 < sampling_strategy <= 1:
        raise PlanError(f"sampling_strategy={sampling_strategy} must be a minority-to-majority ratio in (0, 1].")
    if iterations < 1:
        raise PlanError(f"iterations={iterations} must be at least 1.")


def _typed_inputs(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    types: dict[str, str],
    label: str,
    minority_values: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if not minority_values:
        raise PlanError(f"minority_values is empty; name the values of {label!r} that form the minority.")
    for frame, origin in ((train, "training data"), (holdout, "holdout"), (synthetic, "synthetic rows")):
        _inputs.check_columns(frame, types, origin)
    train = _inputs.normalize(train, types, "training data")
    holdout = _inputs.normalize(holdout, types, "holdout")
    synthetic = _inputs.normalize(synthetic, types, "synthetic rows")

    _inputs.check_minority_rows(train, label, minority_values, "training data")
    _inputs.check_minority_rows(holdout, label, minority_values, "holdout")
    _inputs.check_no_overlap(train, holdout)
    foreign = sorted(set(synthetic[label].dropna()) - set(minority_values))
    if foreign:
        raise InvalidDataError(
            f"The synthetic rows have {label!r} values {foreign[:5]} outside the minority {minority_values}. "
            "Pass only synthetic minority rows."
        )
    return train, holdout, synthetic


def _check_synthetic_count(
    train: pd.DataFrame, synthetic: pd.DataFrame, label: str, minority_values: list[str], sampling_strategy: float
) -> dict[str, int]:
    needed = _inputs.synthetic_rows_needed(
        train, label=label, minority_values=minority_values, sampling_strategy=sampling_strategy
    )
    available = synthetic[label].value_counts()
    short = {value: (count, int(available.get(value, 0))) for value, count in needed.items() if available.get(value, 0) < count}
    if short:
        described = ", ".join(f"{value!r}: {have} of {want}" for value, (want, have) in short.items())
        raise PlanError(
            f"Too few synthetic rows to bring the training data to sampling_strategy={sampling_strategy} ({described} "
            f"needed rows). Pass at least {needed} synthetic rows per value, or a smaller sampling_strategy."
        )
    return needed


def _minority(frame: pd.DataFrame, label: str, minority_values: list[str]) -> pd.DataFrame:
    return frame[_inputs.minority_mask(frame, label, minority_values)].reset_index(drop=True)


def _json_safe(value: object) -> object:
    # Metrics can be NaN (a constant column, a fold without positives); JSON has no NaN, so they become null.
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return value
