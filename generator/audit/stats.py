"""Small statistics shared by the audit sections."""

from __future__ import annotations

import math

import numpy as np


def spread(values: list[float]) -> dict:
    """Return the mean, the sample standard deviation (0 for one value) and the values themselves."""
    array = np.asarray(values, dtype="float64")
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "values": [float(value) for value in array]}


def finite_or_none(value: float | None) -> float | None:
    """Return `value` as a float, or None where it is missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
