"""Per-column reference statistics and the SDMetrics column shape and coverage metrics.

A numerical or datetime column is stored as its range and a quantile sketch,
a categorical or boolean column as its category frequencies. Scores follow
SDMetrics 0.32: `KSComplement` and `RangeCoverage` for numerical and datetime
columns, `TVComplement` and `CategoryCoverage` for categorical and boolean
columns.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

COLUMN_TYPES = ("numerical", "datetime", "categorical", "boolean")
CONTINUOUS_TYPES = ("numerical", "datetime")

# SDMetrics' KSComplement rounds values to this many decimals before the test.
KS_DECIMALS = sys.float_info.dig - 1


def category_keys(values: pd.Series) -> pd.Series:
    """Convert values to canonical strings, so that 3, 3.0 and np.int64(3) share one key.

    Missing values become None. The keys are what the profile stores as
    categories, contingency cells and row hash inputs.
    """
    missing = values.isna().to_numpy()

    if pd.api.types.is_bool_dtype(values):
        keys = values.map({True: "True", False: "False"}).astype(object)
    elif pd.api.types.is_integer_dtype(values):
        keys = values.astype(str).astype(object)
    elif pd.api.types.is_float_dtype(values):
        keys = pd.Series([_number_key(value) for value in values.to_numpy()], index=values.index, dtype=object)
    elif pd.api.types.is_datetime64_any_dtype(values):
        keys = pd.Series(values.astype("int64").astype(str), index=values.index, dtype=object)
    elif pd.api.types.infer_dtype(values, skipna=True) == "string":
        keys = values.astype(object).copy()
    else:
        keys = values.map(_object_key).astype(object)

    keys[missing] = None
    return keys


def _number_key(value: float) -> str:
    if np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _object_key(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, float):
        return _number_key(value)
    return str(value)


def numeric_values(values: pd.Series, column_type: str) -> np.ndarray:
    """Convert a numerical or datetime column to float64, with NaN for missing or unparsable values.

    Datetimes become seconds since the Unix epoch, and datetime columns that are
    already numbers (Unix timestamps) stay as they are. The scores computed on
    the result (KS, range coverage, Pearson correlation, equal-width bins) do
    not change under such affine rescaling.
    """
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float).to_numpy()
    if column_type == "numerical" or pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").astype(float).to_numpy()

    timestamps = pd.to_datetime(values, errors="coerce", utc=True)
    seconds = (timestamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.astype(float).to_numpy()


def build_column_profile(values: pd.Series, column_type: str, *, sketch_size: int, max_categories: int) -> dict:
    """Build the stored statistics of one column."""
    if column_type in CONTINUOUS_TYPES:
        return _build_continuous_profile(values, column_type, sketch_size)
    return _build_categorical_profile(values, column_type, max_categories)


def _build_continuous_profile(values: pd.Series, column_type: str, sketch_size: int) -> dict:
    numbers = numeric_values(values, column_type)
    numbers = np.sort(numbers[~np.isnan(numbers)])

    if len(numbers) <= sketch_size:
        sketch = numbers
    else:
        # Quantiles at the centres of sketch_size equal-probability cells: the
        # share of sketch values <= x is within 0.5 / sketch_size of the ECDF.
        probabilities = (np.arange(sketch_size) + 0.5) / sketch_size
        sketch = np.quantile(numbers, probabilities, method="inverted_cdf")

    return {
        "type": column_type,
        "n_values": int(len(numbers)),
        "min": float(numbers[0]) if len(numbers) else None,
        "max": float(numbers[-1]) if len(numbers) else None,
        "sketch": [float(value) for value in sketch],
        "sketch_exact": bool(len(numbers) <= sketch_size),
    }


def _build_categorical_profile(values: pd.Series, column_type: str, max_categories: int) -> dict:
    keys = category_keys(values).dropna()
    shares = keys.value_counts(normalize=True, sort=True)
    top_shares = shares.iloc[:max_categories]

    return {
        "type": column_type,
        "n_values": int(len(keys)),
        "n_categories": int(len(shares)),
        "frequencies": {str(key): float(share) for key, share in top_shares.items()},
        "other_share": float(max(0.0, 1.0 - top_shares.sum())) if len(shares) > max_categories else 0.0,
    }


def score_column_shape(values: pd.Series, profile: Mapping[str, Any]) -> dict:
    """Compute the shape score and the coverage of one synthetic column against its profile."""
    if profile["type"] in CONTINUOUS_TYPES:
        numbers = numeric_values(values, profile["type"])
        numbers = numbers[~np.isnan(numbers)]
        return {
            "metric": "KSComplement",
            "score": _ks_complement(numbers, profile),
            "coverage_metric": "RangeCoverage",
            "coverage": _range_coverage(numbers, profile),
            "exact": bool(profile["sketch_exact"]),
        }

    keys = category_keys(values).dropna()
    truncated = profile["other_share"] > 0 or profile["n_categories"] > len(profile["frequencies"])
    return {
        "metric": "TVComplement",
        "score": _tv_complement(keys, profile),
        "coverage_metric": "CategoryCoverage",
        "coverage": _category_coverage(keys, profile),
        "exact": not truncated,
    }


def _ks_complement(numbers: np.ndarray, profile: Mapping[str, Any]) -> float | None:
    sketch = np.round(np.asarray(profile["sketch"], dtype=float), KS_DECIMALS)
    synthetic = np.sort(np.round(numbers, KS_DECIMALS))
    if len(sketch) == 0 or len(synthetic) == 0:
        return None

    # Both ECDFs are step functions, so the largest gap is at one of the points.
    points = np.concatenate([sketch, synthetic])
    real_cdf = np.searchsorted(sketch, points, side="right") / len(sketch)
    synthetic_cdf = np.searchsorted(synthetic, points, side="right") / len(synthetic)
    return float(1.0 - np.max(np.abs(real_cdf - synthetic_cdf)))


def _range_coverage(numbers: np.ndarray, profile: Mapping[str, Any]) -> float | None:
    real_min, real_max = profile["min"], profile["max"]
    if real_min is None or real_min == real_max or len(numbers) == 0:
        return None

    span = real_max - real_min
    below = max((float(numbers.min()) - real_min) / span, 0.0)
    above = max((real_max - float(numbers.max())) / span, 0.0)
    return float(max(1.0 - (below + above), 0.0))


def _tv_complement(keys: pd.Series, profile: Mapping[str, Any]) -> float | None:
    if len(keys) == 0 or profile["n_values"] == 0:
        return None

    synthetic_shares = keys.value_counts(normalize=True)
    real_shares: Mapping[str, float] = profile["frequencies"]

    distance = 0.0
    for key, real_share in real_shares.items():
        distance += abs(real_share - float(synthetic_shares.get(key, 0.0)))

    # Categories outside the stored ones are compared as one bucket, so the
    # score is an upper bound when the real column had more than max_categories.
    synthetic_other = float(synthetic_shares[~synthetic_shares.index.isin(list(real_shares))].sum())
    distance += abs(profile["other_share"] - synthetic_other)
    return float(1.0 - 0.5 * distance)


def _category_coverage(keys: pd.Series, profile: Mapping[str, Any]) -> float | None:
    if profile["n_categories"] == 0:
        return None

    stored = profile["frequencies"]
    synthetic_categories = set(keys.unique())
    covered = sum(1 for key in stored if key in synthetic_categories)

    # Synthetic values outside the stored categories may be real rare ones, so
    # they count as covered up to the number of real categories not stored.
    unstored_real = profile["n_categories"] - len(stored)
    if unstored_real > 0:
        covered += min(len(synthetic_categories - set(stored)), unstored_real)
    return float(covered / profile["n_categories"])
