"""Draft a schema from a data file: `longtail schema infer`.

The draft is a starting point. Roles come from value patterns and column
names, and the user reviews them, the label above all, before training.
"""

from __future__ import annotations

import re

import pandas as pd

from generator.errors import SchemaError
from generator.loading import FALSE_TOKENS, TRUE_TOKENS
from generator.schema import ColumnSpec, MinorityOptions, ProfileOptions, Role, Schema, SourceOptions

KEY_MIN_DISTINCT = 1000
LABEL_MAX_DISTINCT = 20
UNIX_SECONDS = (9.0e8, 2.2e9)  # 1998-07 to 2039-09
UNIX_MILLISECONDS = (9.0e11, 2.2e12)
USER_NAME = re.compile(r"^(user|customer|visitor|member|buyer)(_?id)?$|^uid$", re.IGNORECASE)
ITEM_NAME = re.compile(r"^(item|product|sku|article|asin|offer)(_?id)?$|^iid$", re.IGNORECASE)
TIME_NAME = re.compile(r"time|date|(^|_)ts$|timestamp", re.IGNORECASE)
LABEL_NAME = re.compile(r"^(label|target|class|y|revenue|income|behavior_type|behaviour_type|event_type|action)$", re.IGNORECASE)


def infer_schema(frame: pd.DataFrame, source: SourceOptions, *, sample_rows: int = 100_000) -> Schema:
    """Draft column roles for a raw (string) DataFrame read by `load_table`."""
    sample = frame.head(sample_rows)
    roles = {name: _infer_column(name, sample[name]) for name in sample.columns}

    label = _pick_label(sample, roles)
    if label is None:
        raise SchemaError(
            f"No column can be the label: a label needs 2 to {LABEL_MAX_DISTINCT} distinct values, and none of "
            f"{list(frame.columns)} has. Check the delimiter and header, or write the schema by hand with one column of role 'label'."
        )
    roles[label] = ColumnSpec(role=Role.LABEL)

    if not source.header and source.names is None:
        source = source.model_copy(update={"names": list(frame.columns)})
    return Schema(columns=roles, source=source, minority=MinorityOptions(), profile=ProfileOptions())


def _infer_column(name: str, column: pd.Series) -> ColumnSpec:
    values = column.dropna()
    if values.empty:
        return ColumnSpec(role=Role.CATEGORICAL)
    text = values.astype(str).str.strip()
    distinct = text.nunique()
    numbers = pd.to_numeric(text, errors="coerce")
    is_numeric = numbers.notna().all()

    if distinct <= 2 and {token.lower() for token in text.unique()} <= (TRUE_TOKENS | FALSE_TOKENS) - {"0", "1"}:
        return ColumnSpec(role=Role.BOOLEAN)
    if is_numeric and TIME_NAME.search(name):
        low, high = numbers.min(), numbers.max()
        if UNIX_SECONDS[0] <= low and high <= UNIX_SECONDS[1]:
            return ColumnSpec(role=Role.DATETIME, format="unix_s")
        if UNIX_MILLISECONDS[0] <= low and high <= UNIX_MILLISECONDS[1]:
            return ColumnSpec(role=Role.DATETIME, format="unix_ms")
    if distinct >= KEY_MIN_DISTINCT and USER_NAME.search(name):
        return ColumnSpec(role=Role.USER_KEY)
    if distinct >= KEY_MIN_DISTINCT and ITEM_NAME.search(name):
        return ColumnSpec(role=Role.ITEM_KEY)
    if not is_numeric and TIME_NAME.search(name):
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if parsed.notna().all():
            return ColumnSpec(role=Role.DATETIME, format="iso")
    if is_numeric and not name.lower().endswith("_id") and distinct > 10:
        return ColumnSpec(role=Role.NUMERICAL)
    return ColumnSpec(role=Role.CATEGORICAL)


def _pick_label(sample: pd.DataFrame, roles: dict[str, ColumnSpec]) -> str | None:
    """Pick the label: a column named like one, else the last low-cardinality discrete column."""
    discrete = [
        name
        for name, spec in roles.items()
        if spec.role in (Role.CATEGORICAL, Role.BOOLEAN) and 2 <= sample[name].nunique() <= LABEL_MAX_DISTINCT
    ]
    named = [name for name in discrete if LABEL_NAME.match(name)]
    if named:
        return named[0]
    return discrete[-1] if discrete else None
