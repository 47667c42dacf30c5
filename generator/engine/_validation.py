"""Input checks of the engine; every failure raises an error from generator.errors."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from generator.errors import ConditionError, InvalidDataError, LongtailInputError, SchemaError

# Choices listed in an error message, at most.
MAX_LISTED_CHOICES = 20


def format_choices(choices: list[str]) -> str:
    listed = ", ".join(repr(choice) for choice in choices[:MAX_LISTED_CHOICES])
    if len(choices) > MAX_LISTED_CHOICES:
        listed += f" and {len(choices) - MAX_LISTED_CHOICES} more"
    return listed


def validate_hyperparameters(parameters: dict) -> None:
    """Raise LongtailInputError naming the first hyperparameter out of range."""
    positive_ints = [
        "epochs", "batch_size", "embedding_dim", "discriminator_steps", "pac", "max_transformer_rows",
    ]
    for name in positive_ints:
        _require_positive_int(name, parameters[name])
    for name in ("generator_dim", "discriminator_dim"):
        value = parameters[name]
        valid = isinstance(value, (tuple, list)) and all(_is_int(size) and size > 0 for size in value)
        if not valid:
            raise LongtailInputError(f"{name} must be a sequence of positive layer sizes, got {value!r}.")
    for name in ("generator_lr", "discriminator_lr"):
        _require_number(name, parameters[name], minimum=0.0, inclusive=False)
    for name in ("generator_decay", "discriminator_decay"):
        _require_number(name, parameters[name], minimum=0.0, inclusive=True)

    if parameters["batch_size"] % parameters["pac"] != 0:
        raise LongtailInputError(
            f"batch_size must be a multiple of pac ({parameters['pac']}), got {parameters['batch_size']}. "
            "Change batch_size or pac."
        )
    seed = parameters["seed"]
    if seed is not None and not (_is_int(seed) and seed >= 0):
        raise LongtailInputError(f"seed must be a non-negative integer or None, got {seed!r}.")


def validate_training_data(data: object, discrete_columns: list[str]) -> None:
    """Raise SchemaError or InvalidDataError unless `data` is a model-space table CTGAN can fit."""
    if not isinstance(data, pd.DataFrame):
        raise InvalidDataError(f"Training data must be a pandas DataFrame, got {type(data).__name__}.")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise InvalidDataError(f"Training data is empty ({data.shape[0]} rows, {data.shape[1]} columns).")
    if not all(isinstance(name, str) for name in data.columns):
        raise SchemaError(f"Column names must be strings, got {list(data.columns)!r}.")
    if data.columns.has_duplicates:
        duplicates = sorted(set(data.columns[data.columns.duplicated()]))
        raise SchemaError(f"Column names must be unique, but these repeat: {format_choices(duplicates)}.")

    unknown = [name for name in discrete_columns if name not in data.columns]
    if unknown:
        raise SchemaError(
            f"Discrete columns {format_choices(unknown)} are not in the data. "
            f"Its columns are {format_choices(list(data.columns))}."
        )

    for name in data.columns:
        column = data[name]
        missing = int(column.isna().sum())
        if missing:
            raise InvalidDataError(
                f"Column {name!r} has {missing} missing values. Encode or drop them before fitting."
            )
        if name in discrete_columns:
            _validate_discrete(name, column)
        else:
            _validate_continuous(name, column)


def validate_row_count(n: object, name: str = "n") -> int:
    if not _is_int(n) or n <= 0:
        raise LongtailInputError(f"{name} must be a positive number of rows, got {n!r}.")
    return int(n)


def validate_condition(
    condition: object, categories: dict[str, list[str]], columns: list[str]
) -> tuple[str, str]:
    """Return the (column, value) pair, or raise ConditionError naming the column or value and the choices."""
    if not (isinstance(condition, tuple) and len(condition) == 2):
        raise ConditionError(f"condition must be a (column, value) tuple, got {condition!r}.")

    column, value = condition
    if column not in categories:
        kind = "a continuous column" if column in columns else "not a column of the model"
        raise ConditionError(
            f"Condition column {column!r} is {kind}. Conditions accept the discrete columns "
            f"{format_choices(list(categories))}."
        )
    if value not in categories[column]:
        raise ConditionError(
            f"Condition value {value!r} was never seen in column {column!r}. "
            f"Its values are {format_choices(categories[column])}."
        )
    return column, value


def _validate_discrete(name: str, column: pd.Series) -> None:
    if pd.api.types.infer_dtype(column, skipna=False) != "string":
        raise InvalidDataError(
            f"Discrete column {name!r} must contain only strings, got dtype {column.dtype}. "
            "Convert it with .astype(str) or leave it out of discrete_columns."
        )


def _validate_continuous(name: str, column: pd.Series) -> None:
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise InvalidDataError(
            f"Continuous column {name!r} must be numeric, got dtype {column.dtype}. "
            "Convert it to float or list it in discrete_columns."
        )
    infinite = int(np.isinf(column.to_numpy(dtype=np.float64)).sum())
    if infinite:
        raise InvalidDataError(
            f"Continuous column {name!r} has {infinite} infinite values. Replace or drop them."
        )


def _require_positive_int(name: str, value: object) -> None:
    if not _is_int(value) or value <= 0:
        raise LongtailInputError(f"{name} must be a positive integer, got {value!r}.")


def _require_number(name: str, value: object, *, minimum: float, inclusive: bool) -> None:
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    valid = valid and (value >= minimum if inclusive else value > minimum)
    if not valid:
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        raise LongtailInputError(f"{name} must be a finite number {bound}, got {value!r}.")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
