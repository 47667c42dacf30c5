"""Privacy statistics: exact copies of training rows, and the distance to the closest record (DCR).

Exact copies are found by 64-bit hashes of whole rows over every column of the
training data, ids included. DCR follows SDMetrics 0.32's `calculate_dcr`: the
distance between two rows is the mean over the typed columns of
`min(|a - b| / range, 1)` for numerical and datetime columns (`range` is the
real column's max - min) and of `0 if a == b else 1` for categorical and
boolean columns. A missing value is at distance 0 from another missing value
and 1 from any value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from generator.fidelity_columns import CONTINUOUS_TYPES, category_keys, numeric_values

# Synthetic rows compared with the stored sample per step. It bounds memory to
# about DCR_CHUNK_ROWS * dcr_reference_rows float32 values per column.
DCR_CHUNK_ROWS = 256

# Normalised values are stored rounded, so that a copy of a training row is at
# distance 0 after the JSON round trip.
DCR_DECIMALS = 6

_MISSING_KEY = "\x00missing"
_MISSING_CODE = -1
_UNKNOWN_CODE = -2


def row_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Hash every row over `columns` to a signed 64-bit int, the same way for training and synthetic rows."""
    keys = pd.DataFrame({column: category_keys(frame[column]).fillna(_MISSING_KEY) for column in columns})
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return hashes.view(np.int64)


def build_copy_profile(frame: pd.DataFrame, *, max_row_hashes: int) -> dict:
    """Store the hashes of the distinct training rows, at most `max_row_hashes` of them.

    Above the cap it keeps the smallest hashes, a uniform random subset of the
    distinct rows, so that the exact copy share can be estimated from it.
    """
    columns = list(frame.columns)
    distinct = np.unique(row_hashes(frame, columns))
    stored = distinct[:max_row_hashes]

    return {
        "columns": columns,
        "row_hashes": [int(value) for value in stored],
        "n_distinct_rows": int(len(distinct)),
    }


def exact_copy_share(frame: pd.DataFrame, profile: Mapping[str, Any], stored_hashes: np.ndarray) -> tuple[float, bool]:
    """Compute the share of rows identical to a training row, and whether the share is an estimate."""
    hashes = row_hashes(frame, profile["columns"])
    matched = int(np.isin(hashes, stored_hashes).sum())

    estimated = len(stored_hashes) < profile["n_distinct_rows"]
    if estimated:
        # Each distinct training row is stored with probability k / N, so the
        # matches are scaled by N / k.
        matched_estimate = matched * profile["n_distinct_rows"] / len(stored_hashes)
        return float(min(1.0, matched_estimate / len(frame))), True
    return float(matched / len(frame)), False


class DCRReference:
    """Normalised sample of training rows that synthetic and holdout rows are compared with."""

    def __init__(self, profile: Mapping[str, Any]):
        self.columns: list[str] = list(profile["columns"])
        self.rows: int = int(profile["rows"])
        self.types: dict[str, str] = dict(profile["types"])
        self.offsets: dict[str, float] = dict(profile["offsets"])
        self.ranges: dict[str, float] = dict(profile["ranges"])
        self.vocabularies: dict[str, list[str]] = {column: list(v) for column, v in profile["vocabularies"].items()}
        self.sample: dict[str, np.ndarray] = {
            column: self._stored_column(column, values) for column, values in profile["sample"].items()
        }

    def _stored_column(self, column: str, values: list) -> np.ndarray:
        if self.types[column] in CONTINUOUS_TYPES:
            return np.array([np.nan if value is None else value for value in values], dtype=np.float32)
        return np.asarray(values, dtype=np.int32)

    @classmethod
    def build(
        cls, frame: pd.DataFrame, column_types: Mapping[str, str], column_profiles: Mapping[str, Any], *, rows: int, seed: int
    ) -> dict:
        """Sample `rows` training rows and store them normalised by the real column ranges."""
        rng = np.random.default_rng(seed)
        positions = np.sort(rng.choice(len(frame), size=min(rows, len(frame)), replace=False))
        sample_frame = frame.iloc[positions]

        profile: dict[str, Any] = {
            "columns": list(column_types),
            "rows": len(positions),
            "types": dict(column_types),
            "offsets": {},
            "ranges": {},
            "vocabularies": {},
            "sample": {},
        }
        for column, column_type in column_types.items():
            if column_type in CONTINUOUS_TYPES:
                low = column_profiles[column]["min"]
                high = column_profiles[column]["max"]
                profile["offsets"][column] = 0.0 if low is None else low
                profile["ranges"][column] = 0.0 if low is None else high - low
            else:
                profile["vocabularies"][column] = sorted(category_keys(sample_frame[column]).dropna().unique())

        encoded = cls(profile).encode(sample_frame)
        for column, column_type in column_types.items():
            if column_type in CONTINUOUS_TYPES:
                profile["sample"][column] = [None if np.isnan(value) else float(value) for value in encoded[column]]
            else:
                profile["sample"][column] = [int(value) for value in encoded[column]]
        return profile

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Normalise continuous columns to the real range and map categories to vocabulary codes.

        Continuous columns come back as float64 rounded to DCR_DECIMALS, categories as int32 codes.
        """
        encoded: dict[str, np.ndarray] = {}
        for column in self.columns:
            if self.types[column] in CONTINUOUS_TYPES:
                numbers = numeric_values(frame[column], self.types[column])
                span = self.ranges[column] or 1.0
                encoded[column] = np.round((numbers - self.offsets[column]) / span, DCR_DECIMALS)
            else:
                codes = {key: code for code, key in enumerate(self.vocabularies[column])}
                keys = category_keys(frame[column])
                encoded[column] = np.array(
                    [_MISSING_CODE if key is None else codes.get(key, _UNKNOWN_CODE) for key in keys], dtype=np.int32
                )
        return encoded

    def distances(self, frame: pd.DataFrame) -> np.ndarray:
        """Compute the distance of every row of `frame` to its closest stored training row."""
        encoded = self.encode(frame)
        closest = np.empty(len(frame), dtype=np.float64)

        for start in range(0, len(frame), DCR_CHUNK_ROWS):
            stop = min(start + DCR_CHUNK_ROWS, len(frame))
            total = np.zeros((stop - start, self.rows), dtype=np.float32)
            for column in self.columns:
                total += self._column_distances(column, encoded[column][start:stop])
            closest[start:stop] = total.min(axis=1) / len(self.columns)

        return closest

    def _column_distances(self, column: str, values: np.ndarray) -> np.ndarray:
        reference = self.sample[column]
        if self.types[column] not in CONTINUOUS_TYPES:
            return (values[:, None] != reference[None, :]).astype(np.float32)

        values = values.astype(np.float32)
        difference = np.abs(values[:, None] - reference[None, :])
        if self.ranges[column] == 0:
            difference = (difference > 0).astype(np.float32)
        else:
            difference = np.minimum(difference, 1.0)

        values_missing = np.isnan(values)[:, None]
        reference_missing = np.isnan(reference)[None, :]
        difference[values_missing ^ reference_missing] = 1.0
        difference[values_missing & reference_missing] = 0.0
        return difference
