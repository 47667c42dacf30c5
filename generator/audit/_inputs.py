"""Input checks, typing and subsampling of the tables an audit compares."""

from __future__ import annotations


import numpy as np
import pandas as pd

from generator.errors import InvalidDataError, PlanError, SchemaError

COLUMN_TYPES = ("numerical", "datetime", "categorical", "boolean", "user_key", "item_key", "label")
KEY_TYPES = ("user_key", "item_key")
DISCRETE_TYPES = ("categorical", "boolean", "label")
TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "0.0"})
OVERLAP_EXAMPLES = 5


def check_column_types(column_types: dict[str, str], label: str) -> dict[str, str]:
    """Return `column_types` with the label typed as 'label', or raise SchemaError for an unknown type."""
    unknown = {name: kind for name, kind in column_types.items() if kind not in COLUMN_TYPES}
    if unknown:
        raise SchemaError(f"Unknown column types {unknown}; use one of {list(COLUMN_TYPES)}.")

    types = dict(column_types)
    types[label] = "label"
    return types


def check_columns(frame: pd.DataFrame, column_types: dict[str, str], origin: str) -> None:
    """Raise SchemaError when `frame` lacks a schema column or has one the schema does not know."""
    missing = [name for name in column_types if name not in frame.columns]
    unexpected = [name for name in frame.columns if name not in column_types]
    if missing or unexpected:
        raise SchemaError(
            f"The {origin} columns do not match the model's schema: missing {missing}, unexpected {unexpected}. "
            f"The schema has {list(column_types)}; pass a table with exactly these columns."
        )


def normalize(frame: pd.DataFrame, column_types: dict[str, str], origin: str) -> pd.DataFrame:
    """Return the schema's columns typed for the audit.

    Numerical columns and datetimes become float64 (datetimes as seconds since
    the Unix epoch when they are not numbers already), and every discrete or key
    column becomes strings, with booleans spelled 'true' and 'false'.
    """
    typed = {}
    for name, kind in column_types.items():
        column = frame[name]
        if kind == "numerical":
            typed[name] = _to_float(column, name, origin)
        elif kind == "datetime":
            typed[name] = _to_epoch_seconds(column, name, origin)
        elif kind == "boolean":
            typed[name] = _to_boolean(column, name, origin)
        else:
            typed[name] = _to_text(column)
    return pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))


def _to_float(column: pd.Series, name: str, origin: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is numerical but contains {column[bad].iloc[0]!r}, which is not a number "
            f"({int(bad.sum())} such values). Clean the values or fix the column's type in the schema."
        )
    return values.astype("float64").reset_index(drop=True)


def _to_epoch_seconds(column: pd.Series, name: str, origin: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64").reset_index(drop=True)
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() == column.notna().sum():
        return numbers.astype("float64").reset_index(drop=True)

    parsed = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & column.notna()
    if bad.any():
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is a datetime but contains {column[bad].iloc[0]!r}, which is neither "
            "Unix seconds nor a parseable date. Clean the values or fix the column's type in the schema."
        )
    seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return seconds.astype("float64").reset_index(drop=True)


def _to_boolean(column: pd.Series, name: str, origin: str) -> pd.Series:
    values = _to_text(column).str.lower().map(_boolean_token)
    unknown = sorted(set(values.dropna()) - {"true", "false"})
    if unknown:
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is boolean but contains {unknown[:5]}. "
            "Use true/false, yes/no or 1/0, or fix the column's type in the schema."
        )
    return values


def _boolean_token(token: str | None) -> str | None:
    if token in TRUE_TOKENS:
        return "true"
    if token in FALSE_TOKENS:
        return "false"
    return token


def _to_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(column) and column.dropna().mod(1).eq(0).all():
        column = column.astype("Int64")
    text = column.astype("string").str.strip().astype(object)
    return text.where(column.notna().to_numpy(), None).reset_index(drop=True)


def minority_mask(frame: pd.DataFrame, label: str, minority_values: list[str]) -> np.ndarray:
    """Return a boolean array that is True on the rows whose label is a minority value."""
    return frame[label].isin(minority_values).to_numpy()


def check_minority_rows(frame: pd.DataFrame, label: str, minority_values: list[str], origin: str) -> None:
    """Raise InvalidDataError when `frame` has no minority row or no majority row."""
    is_minority = minority_mask(frame, label, minority_values)
    if not is_minority.any():
        present = frame[label].value_counts().head(10).to_dict()
        raise InvalidDataError(
            f"The {origin} has no minority rows: no value of {label!r} is in {minority_values} "
            f"(its most frequent values are {present}). The {origin} must contain minority rows; "
            "a stratified split of the data has them."
        )
    if is_minority.all():
        raise InvalidDataError(
            f"The {origin} has only minority rows ({label!r} in {minority_values}), but the utility test needs the "
            f"other classes too. Include the rows of every class in the {origin}."
        )


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Return one 64-bit hash per row of a normalized frame, equal for equal rows."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def check_no_overlap(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    """Raise InvalidDataError when the holdout repeats rows of the training data, and report how many."""
    shared = np.isin(row_hashes(holdout), row_hashes(train))
    if not shared.any():
        return

    examples = np.flatnonzero(shared)[:OVERLAP_EXAMPLES].tolist()
    raise InvalidDataError(
        f"The holdout shares {int(shared.sum())} of its {len(holdout)} rows ({shared.mean():.2%}) with the training "
        f"data (holdout rows {examples} among them), so privacy and utility figures would be inflated. "
        "Split the data so that identical rows fall on one side only, or drop the shared rows from the holdout."
    )


def stratified_subsample(frame: pd.DataFrame, strata: np.ndarray, max_rows: int, seed: int) -> pd.DataFrame:
    """Return at most `max_rows` rows of `frame`, keeping each stratum's share and at least one row of each."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)

    rng = np.random.default_rng(seed)
    keep = []
    for value in pd.unique(strata):
        rows = np.flatnonzero(strata == value)
        count = max(1, round(len(rows) * max_rows / len(frame)))
        keep.append(rng.choice(rows, size=min(count, len(rows)), replace=False))
    return frame.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def subsample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """Return at most `max_rows` rows of `frame`, drawn without replacement."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    rows = np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False)
    return frame.iloc[np.sort(rows)].reset_index(drop=True)


def synthetic_rows_needed(
    train: pd.DataFrame, *, label: str, minority_values: list[str], sampling_strategy: float
) -> dict[str, int]:
    """Return how many synthetic rows of each minority value bring `train` to the target balance.

    `sampling_strategy` is imbalanced-learn's float form: the number of
    minority rows over the number of majority rows after resampling. The rows
    are shared among the minority values in proportion to their real counts.
    """
    counts = train[label].value_counts()
    minority_counts = {value: int(counts.get(value, 0)) for value in minority_values}
    n_minority = sum(minority_counts.values())
    n_majority = len(train) - n_minority
    target = int(sampling_strategy * n_majority)  # rounds as imbalanced-learn does, so every strategy ends equal
    if target <= n_minority:
        raise PlanError(
            f"The training data already has {n_minority} minority rows for {n_majority} majority rows "
            f"(ratio {n_minority / max(n_majority, 1):.3f}), at or above sampling_strategy={sampling_strategy}. "
            "Pass a larger sampling_strategy."
        )

    total = target - n_minority
    needed = {value: total * count // n_minority for value, count in minority_counts.items()}
    # Integer division leaves a remainder: give it to the most frequent minority value.
    largest = max(minority_counts, key=minority_counts.__getitem__)
    needed[largest] += total - sum(needed.values())
    return {value: count for value, count in needed.items() if count > 0}
