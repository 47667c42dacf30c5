"""Downstream utility: one classifier trained five ways and scored on the real holdout.

Every strategy trains scikit-learn's HistGradientBoostingClassifier on the real
training split to tell minority from majority rows: (a) as is, (b) with class
weights, (c) with random oversampling, (d) with SMOTE, SMOTE-NC or SMOTEN, and
(e) with longtail's synthetic minority rows. Strategies (b) to (e) bring the
minority to the same ratio to the majority, so they differ only in how they
get there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC, RandomOverSampler
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from generator.audit._inputs import minority_mask
from generator.audit.features import FeatureEncoder, from_codes, to_codes
from generator.audit.stats import spread

logger = logging.getLogger(__name__)

METRICS = ("precision", "recall", "f1", "pr_auc", "roc_auc")
STRATEGIES = {
    "real": "real training split as is",
    "class_weights": "real training split with minority rows weighted up to the target balance",
    "random_oversampling": "real training split with minority rows repeated at random (imbalanced-learn RandomOverSampler)",
    "smote": "real training split with minority rows interpolated by imbalanced-learn's {method}",
    "longtail": "real training split with longtail's synthetic minority rows",
}
PR_CURVE_POINTS = 100
SMOTE_NEIGHBORS = 5


def evaluate_utility(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    encoder: FeatureEncoder,
    label: str,
    minority_values: list[str],
    needed: dict[str, int],
    sampling_strategy: float,
    seeds: tuple[int, ...],
    iterations: int,
    on_step: Callable[[], None],
) -> dict:
    """Train every strategy once per seed and return their metrics on the holdout.

    `needed` gives the synthetic rows of each minority value that strategy (e)
    adds; `synthetic` must hold at least that many of each.
    """
    features = encoder.transform(train)
    target = minority_mask(train, label, minority_values).astype("int64")
    holdout_features = encoder.transform(holdout)
    holdout_target = minority_mask(holdout, label, minority_values).astype("int64")
    smote_name = _smote_variant(features)

    runs: dict[str, list[dict]] = {name: [] for name in STRATEGIES}
    sizes: dict[str, tuple[int, int]] = {}
    for seed in seeds:
        for name in STRATEGIES:
            x, y, weights = _training_set(
                name, features, target, synthetic, encoder, needed, sampling_strategy, seed, label
            )
            sizes[name] = (len(y), int(y.sum()))
            classifier = HistGradientBoostingClassifier(max_iter=iterations, early_stopping=False, random_state=seed)
            classifier.fit(x, y, sample_weight=weights)
            scores = classifier.predict_proba(holdout_features)[:, 1]
            runs[name].append(_score(holdout_target, scores))
            on_step()

    strategies = [
        _summarize(name, runs[name], sizes[name], smote_name if name == "smote" else None) for name in STRATEGIES
    ]
    logger.info("Utility audit finished: %d strategies, %d seeds, %d holdout rows", len(STRATEGIES), len(seeds), len(holdout))
    return {
        "classifier": f"sklearn HistGradientBoostingClassifier(max_iter={iterations})",
        "primary_metric": "pr_auc",
        "sampling_strategy": sampling_strategy,
        "holdout_rows": len(holdout),
        "holdout_minority_rows": int(holdout_target.sum()),
        "seeds": list(seeds),
        "strategies": strategies,
    }


def _training_set(
    name: str,
    features: pd.DataFrame,
    target: np.ndarray,
    synthetic: pd.DataFrame,
    encoder: FeatureEncoder,
    needed: dict[str, int],
    sampling_strategy: float,
    seed: int,
    label: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    if name == "real":
        return features, target, None
    if name == "class_weights":
        return features, target, _balanced_weights(target, sampling_strategy)
    if name == "random_oversampling":
        sampler = RandomOverSampler(sampling_strategy=sampling_strategy, random_state=seed)
        x, y = sampler.fit_resample(features, target)
        return x, np.asarray(y), None
    if name == "smote":
        return _smote(features, target, sampling_strategy, seed)

    rows = _draw_synthetic(synthetic, needed, label, seed)
    x = pd.concat([features, encoder.transform(rows)], ignore_index=True)
    y = np.concatenate([target, np.ones(len(rows), dtype="int64")])
    return x, y, None


def _balanced_weights(target: np.ndarray, sampling_strategy: float) -> np.ndarray:
    n_minority = int(target.sum())
    minority_weight = sampling_strategy * (len(target) - n_minority) / n_minority
    return np.where(target == 1, max(minority_weight, 1.0), 1.0)


def _smote_variant(features: pd.DataFrame) -> str:
    categorical = [name for name in features.columns if isinstance(features[name].dtype, pd.CategoricalDtype)]
    if not categorical:
        return "SMOTE"
    if len(categorical) == features.shape[1]:
        return "SMOTEN"
    return "SMOTE-NC"


def _smote(
    features: pd.DataFrame, target: np.ndarray, sampling_strategy: float, seed: int
) -> tuple[pd.DataFrame, np.ndarray, None]:
    coded = to_codes(features)
    # NOTE: SMOTE cannot interpolate missing values, so they take the training median for this strategy only.
    coded = coded.fillna(coded.median(numeric_only=True))
    neighbors = min(SMOTE_NEIGHBORS, int(target.sum()) - 1)
    categorical = [i for i, name in enumerate(features.columns) if isinstance(features[name].dtype, pd.CategoricalDtype)]
    variant = _smote_variant(features)
    if variant == "SMOTE":
        sampler = SMOTE(sampling_strategy=sampling_strategy, k_neighbors=neighbors, random_state=seed)
    elif variant == "SMOTEN":
        sampler = SMOTEN(sampling_strategy=sampling_strategy, k_neighbors=neighbors, random_state=seed)
    else:
        sampler = SMOTENC(
            categorical_features=categorical, sampling_strategy=sampling_strategy, k_neighbors=neighbors, random_state=seed
        )
    x, y = sampler.fit_resample(coded, target)
    return from_codes(pd.DataFrame(x, columns=features.columns), features), np.asarray(y), None


def _draw_synthetic(synthetic: pd.DataFrame, needed: dict[str, int], label: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for value, count in needed.items():
        rows = np.flatnonzero(synthetic[label].to_numpy() == value)
        parts.append(synthetic.iloc[rng.choice(rows, size=count, replace=False)])
    return pd.concat(parts, ignore_index=True)


def _score(target: np.ndarray, scores: np.ndarray) -> dict:
    predicted = (scores >= 0.5).astype("int64")
    precision, recall, _ = precision_recall_curve(target, scores)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(PR_CURVE_POINTS, len(recall))).astype(int))
    return {
        "precision": float(precision_score(target, predicted, zero_division=0)),
        "recall": float(recall_score(target, predicted, zero_division=0)),
        "f1": float(f1_score(target, predicted, zero_division=0)),
        "pr_auc": float(average_precision_score(target, scores)),
        "roc_auc": float(roc_auc_score(target, scores)),
        "pr_curve": {"recall": recall[keep].round(4).tolist(), "precision": precision[keep].round(4).tolist()},
    }


def _summarize(name: str, runs: list[dict], size: tuple[int, int], method: str | None) -> dict:
    summary = {
        "name": name,
        "description": STRATEGIES[name].format(method=method),
        "train_rows": size[0],
        "train_minority_rows": size[1],
        "metrics": {metric: spread([run[metric] for run in runs]) for metric in METRICS},
        "pr_curve": runs[0]["pr_curve"],
    }
    if method:
        summary["method"] = method
    return summary
