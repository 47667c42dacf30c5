"""Privacy section: exact copies and the distance to the closest training record (DCR).

Distances are Gower distances in [0, 1]: the mean over columns of the absolute
difference scaled by the training range (numerical, datetime) or of 0/1
mismatch (every other column, identifiers included). A real holdout, which the
model never saw, gives the DCR of unseen real rows. Synthetic rows much closer
to the training rows than that suggest memorisation.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from generator.audit._inputs import row_hashes

logger = logging.getLogger(__name__)

HISTOGRAM_BINS = 30
CHUNK_CELLS = 20_000_000
QUANTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5, "mean": None}


def evaluate_privacy(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    column_types: dict[str, str],
    *,
    train_hashes: np.ndarray,
) -> dict:
    """Return exact-copy shares and DCR statistics of the synthetic rows and of the real holdout rows.

    Exact copies are looked up among all training rows (`train_hashes`, from
    `row_hashes`); distances are measured to the rows of `train`.
    """
    synthetic_dcr = _closest_distances(synthetic, train, column_types)
    holdout_dcr = _closest_distances(holdout, train, column_types)
    holdout_p05 = float(np.quantile(holdout_dcr, 0.05))

    upper = max(float(synthetic_dcr.max()), float(holdout_dcr.max()), 1e-9)
    edges = np.linspace(0.0, upper, HISTOGRAM_BINS + 1)
    logger.info("Privacy audit finished: %d synthetic and %d holdout rows against %d training rows", len(synthetic), len(holdout), len(train))
    return {
        "distance": "Gower distance over all columns (range-scaled numerical, 0/1 mismatch otherwise)",
        "training_rows": len(train),
        "synthetic_rows": len(synthetic),
        "holdout_rows": len(holdout),
        "exact_copy_share": float(np.isin(row_hashes(synthetic), train_hashes).mean()),
        "holdout_exact_copy_share": float(np.isin(row_hashes(holdout), train_hashes).mean()),
        "dcr": {"synthetic": _summary(synthetic_dcr), "holdout": _summary(holdout_dcr)},
        "share_closer_than_holdout_p05": float((synthetic_dcr < holdout_p05).mean()),
        "histogram": {
            "edges": edges.tolist(),
            "synthetic": (np.histogram(synthetic_dcr, bins=edges)[0] / len(synthetic_dcr)).tolist(),
            "holdout": (np.histogram(holdout_dcr, bins=edges)[0] / len(holdout_dcr)).tolist(),
        },
    }


def _summary(distances: np.ndarray) -> dict:
    return {
        name: float(distances.mean() if quantile is None else np.quantile(distances, quantile))
        for name, quantile in QUANTILES.items()
    }


def _closest_distances(rows: pd.DataFrame, train: pd.DataFrame, column_types: dict[str, str]) -> np.ndarray:
    """Return, for each of `rows`, the Gower distance to its closest row of `train` (brute force, in chunks)."""
    numeric, discrete = _encode(rows, train, column_types)
    train_numeric, train_discrete = _encode(train, train, column_types)
    columns = numeric.shape[1] + discrete.shape[1]
    chunk = max(1, CHUNK_CELLS // max(len(train) * columns, 1))

    closest = np.empty(len(rows))
    for start in range(0, len(rows), chunk):
        stop = start + chunk
        total = np.zeros((min(stop, len(rows)) - start, len(train)))
        for k in range(numeric.shape[1]):
            # Differences cap at 1, the training range, and a missing value on either side counts as 1.
            difference = np.abs(numeric[start:stop, k, None] - train_numeric[None, :, k])
            total += np.minimum(np.nan_to_num(difference, nan=1.0), 1.0)
        for k in range(discrete.shape[1]):
            total += discrete[start:stop, k, None] != train_discrete[None, :, k]
        closest[start:stop] = total.min(axis=1) / columns
    return closest


def _encode(frame: pd.DataFrame, train: pd.DataFrame, column_types: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    numeric, discrete = [], []
    for name, kind in column_types.items():
        if kind in ("numerical", "datetime"):
            values = train[name].to_numpy(dtype="float64")
            low, high = np.nanmin(values), np.nanmax(values)
            scale = high - low if high > low else 1.0
            numeric.append((frame[name].to_numpy(dtype="float64") - low) / scale)
        else:
            codes = {value: code for code, value in enumerate(pd.unique(train[name].fillna("(missing)")))}
            discrete.append(frame[name].fillna("(missing)").map(codes).fillna(-1).to_numpy(dtype="int64"))
    empty = np.empty((len(frame), 0))
    return (np.column_stack(numeric) if numeric else empty), (np.column_stack(discrete) if discrete else empty)
