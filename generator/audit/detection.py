"""Classifier two-sample test: can a classifier tell real minority rows from synthetic ones?

A cross-validated ROC AUC near 0.5 means the classifier cannot; 1.0 means every
synthetic row is recognisable. The same test between the training and the
holdout minority rows gives the AUC that two real samples reach, as a baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from generator.audit.features import FeatureEncoder
from generator.audit.stats import spread

logger = logging.getLogger(__name__)

FOLDS = 5


def evaluate_detection(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout_real: pd.DataFrame,
    *,
    encoder: FeatureEncoder,
    seeds: tuple[int, ...],
    iterations: int,
    on_step: Callable[[], None],
) -> dict:
    """Return the cross-validated ROC AUC of real against synthetic rows, and of training against holdout rows."""
    synthetic_auc, rows = [], 0
    baseline_auc, baseline_rows = [], 0
    for seed in seeds:
        auc, rows = _two_sample_auc(real, synthetic, encoder, seed, iterations)
        synthetic_auc.append(auc)
        auc, baseline_rows = _two_sample_auc(real, holdout_real, encoder, seed, iterations)
        baseline_auc.append(auc)
        on_step()

    result = spread(synthetic_auc)
    logger.info("Detection audit finished: ROC AUC %.3f on %d rows per side", result["mean"], rows)
    return {
        "classifier": f"sklearn HistGradientBoostingClassifier(max_iter={iterations}), {FOLDS}-fold cross-validation",
        "rows_per_side": rows,
        "roc_auc": result,
        "detection_score": 1.0 - (max(result["mean"], 0.5) * 2 - 1),
        "baseline_rows_per_side": baseline_rows,
        "baseline_roc_auc": spread(baseline_auc),
    }


def _two_sample_auc(
    first: pd.DataFrame, second: pd.DataFrame, encoder: FeatureEncoder, seed: int, iterations: int
) -> tuple[float, int]:
    # Equal sides keep 0.5 the AUC of a classifier that learned nothing.
    rows = min(len(first), len(second))
    rng = np.random.default_rng(seed)
    sample = pd.concat(
        [first.iloc[rng.choice(len(first), rows, replace=False)], second.iloc[rng.choice(len(second), rows, replace=False)]],
        ignore_index=True,
    )
    target = np.concatenate([np.zeros(rows, dtype="int64"), np.ones(rows, dtype="int64")])
    folds = min(FOLDS, rows)
    if folds < 2:
        return float("nan"), rows

    classifier = HistGradientBoostingClassifier(max_iter=iterations, early_stopping=False, random_state=seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(classifier, encoder.transform(sample), target, cv=splitter, scoring="roc_auc")
    return float(scores.mean()), rows
