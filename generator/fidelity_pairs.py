"""Column pair reference statistics and the SDMetrics column pair trend metrics.

This follows the Column Pair Trends property of SDMetrics 0.32's QualityReport:

- two numerical or datetime columns: `CorrelationSimilarity` with the Pearson
  coefficient, `1 - |r_real - r_synthetic| / 2`.
- any other pair: `ContingencySimilarity`, one minus the total variation
  distance between the two contingency tables. A numerical or datetime column
  is first cut into the 10 equal-width bins of `np.histogram_bin_edges`, and
  each table is binned on its own range, as SDMetrics does.
- only pairs whose real data pass the report's thresholds count: |Pearson r|
  above 0.5, or Cramér's V above 0.3. The other pairs get no score.

Only the pairs that pass are stored, at most `max_pairs` of them: those with
the strongest real association (|r| or Cramér's V), ties in column order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import pearsonr
from scipy.stats.contingency import association

from generator.fidelity_columns import CONTINUOUS_TYPES, category_keys, numeric_values

# The thresholds SDMetrics' QualityReport sets (sdmetrics.reports.utils, 0.32).
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3


def prepare_pair_columns(frame: pd.DataFrame, column_types: Mapping[str, str]) -> tuple[dict, dict]:
    """Convert the typed columns to the values the pair metrics compare.

    Returns the numbers of the continuous columns and the keys every column
    has in a contingency table: category keys, or bin numbers as strings.
    """
    numbers: dict[str, np.ndarray] = {}
    keys: dict[str, pd.Series] = {}

    for column, column_type in column_types.items():
        if column_type in CONTINUOUS_TYPES:
            numbers[column] = numeric_values(frame[column], column_type)
            keys[column] = _bin_keys(numbers[column], frame.index)
        else:
            keys[column] = category_keys(frame[column])

    return numbers, keys


def _bin_keys(values: np.ndarray, index: pd.Index) -> pd.Series:
    # np.digitize puts NaN and the maximum in bin len(edges), as in SDMetrics.
    edges = np.histogram_bin_edges(values[~np.isnan(values)])
    bins = np.digitize(values, bins=edges)
    return pd.Series(bins.astype(str), index=index, dtype=object)


def build_pair_profiles(
    frame: pd.DataFrame, column_types: Mapping[str, str], *, max_pairs: int, max_cells: int
) -> dict:
    """Select the pairs that pass the SDMetrics thresholds and store their real statistics."""
    numbers, keys = prepare_pair_columns(frame, column_types)

    candidates = []
    below_threshold = 0
    for order, (first, second) in enumerate(itertools.combinations(list(column_types), 2)):
        both_continuous = column_types[first] in CONTINUOUS_TYPES and column_types[second] in CONTINUOUS_TYPES
        if both_continuous:
            profile = _build_correlation_profile(numbers[first], numbers[second])
        else:
            profile = _build_contingency_profile(keys[first], keys[second], max_cells)

        if profile is None:
            below_threshold += 1
            continue
        profile["columns"] = [first, second]
        candidates.append((order, profile))

    strongest = sorted(candidates, key=lambda item: (-item[1]["strength"], item[0]))[:max_pairs]
    selected = [profile for _, profile in sorted(strongest, key=lambda item: item[0])]
    return {
        "max_pairs": max_pairs,
        "pairs": selected,
        "pairs_below_threshold": below_threshold,
        "pairs_skipped": len(candidates) - len(selected),
    }


def _build_correlation_profile(first: np.ndarray, second: np.ndarray) -> dict | None:
    correlation = _pearson(first, second)
    if correlation is None or abs(correlation) <= REAL_CORRELATION_THRESHOLD:
        return None
    return {"metric": "CorrelationSimilarity", "real_correlation": correlation, "strength": abs(correlation)}


def _pearson(first: np.ndarray, second: np.ndarray) -> float | None:
    # SDMetrics raises for a column with one distinct value and for fewer than
    # two complete rows, and the report then gives the pair no score.
    for values in (first, second):
        if len(np.unique(values[~np.isnan(values)])) == 1:
            return None

    complete = ~(np.isnan(first) | np.isnan(second))
    if complete.sum() < 2:
        return None
    if np.ptp(first[complete]) == 0 or np.ptp(second[complete]) == 0:
        return None

    correlation = float(pearsonr(first[complete], second[complete])[0])
    return None if np.isnan(correlation) else correlation


def _build_contingency_profile(first: pd.Series, second: pd.Series, max_cells: int) -> dict | None:
    counts = _contingency_counts(first, second)
    table = counts.unstack(fill_value=0)
    if table.to_numpy().sum() == 0 or min(table.shape) < 2:
        return None

    cramers_v = float(association(table.to_numpy(), method="cramer"))
    if cramers_v <= REAL_ASSOCIATION_THRESHOLD:
        return None

    shares = (counts / len(first)).sort_values(ascending=False, kind="stable")
    top_shares = shares.iloc[:max_cells]
    cells = [
        [_json_key(first_key), _json_key(second_key), float(share)]
        for (first_key, second_key), share in top_shares.items()
    ]
    return {
        "metric": "ContingencySimilarity",
        "real_association": cramers_v,
        "strength": cramers_v,
        "cells": cells,
        "cells_truncated": bool(len(shares) > max_cells),
        "other_share": float(max(0.0, 1.0 - top_shares.sum())) if len(shares) > max_cells else 0.0,
    }


def _contingency_counts(first: pd.Series, second: pd.Series) -> pd.Series:
    pair = pd.DataFrame({"first": first.to_numpy(), "second": second.to_numpy()})
    return pair.groupby(["first", "second"], dropna=False).size()


def _json_key(key: Any) -> str | None:
    return None if key is None or (isinstance(key, float) and np.isnan(key)) else str(key)


def score_pairs(frame: pd.DataFrame, column_types: Mapping[str, str], pair_profiles: Mapping[str, Any]) -> dict:
    """Compute the score of every stored pair on a synthetic batch."""
    used_columns = {column for profile in pair_profiles["pairs"] for column in profile["columns"]}
    used_types = {column: column_types[column] for column in column_types if column in used_columns}
    numbers, keys = prepare_pair_columns(frame, used_types)

    pairs = []
    for profile in pair_profiles["pairs"]:
        first, second = profile["columns"]
        if profile["metric"] == "CorrelationSimilarity":
            score = _correlation_similarity(numbers[first], numbers[second], profile["real_correlation"])
            real_value = {"real_correlation": profile["real_correlation"]}
        else:
            score = _contingency_similarity(keys[first], keys[second], profile)
            real_value = {"real_association": profile["real_association"], "exact": not profile["cells_truncated"]}
        pairs.append({"columns": [first, second], "metric": profile["metric"], "score": score, **real_value})

    return {
        "pairs": pairs,
        "pairs_below_threshold": pair_profiles["pairs_below_threshold"],
        "pairs_skipped": pair_profiles["pairs_skipped"],
        "max_pairs": pair_profiles["max_pairs"],
        "real_correlation_threshold": REAL_CORRELATION_THRESHOLD,
        "real_association_threshold": REAL_ASSOCIATION_THRESHOLD,
    }


def _correlation_similarity(first: np.ndarray, second: np.ndarray, real_correlation: float) -> float | None:
    synthetic_correlation = _pearson(first, second)
    if synthetic_correlation is None:
        return None
    return float(1.0 - abs(real_correlation - synthetic_correlation) / 2)


def _contingency_similarity(first: pd.Series, second: pd.Series, profile: Mapping[str, Any]) -> float | None:
    if len(first) == 0:
        return None

    synthetic_shares = {
        (_json_key(first_key), _json_key(second_key)): count / len(first)
        for (first_key, second_key), count in _contingency_counts(first, second).items()
    }

    distance = 0.0
    stored_share = 0.0
    for first_key, second_key, real_share in profile["cells"]:
        synthetic_share = synthetic_shares.get((first_key, second_key), 0.0)
        stored_share += synthetic_share
        distance += abs(real_share - synthetic_share)

    # Cells beyond the stored ones are compared as one bucket, which makes the
    # score an upper bound when the real table had more than max_cells cells.
    distance += abs(profile["other_share"] - max(0.0, 1.0 - stored_share))
    return float(1.0 - 0.5 * distance)
