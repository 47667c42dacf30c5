"""Write generated rows in the input's column order and value formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from generator.encoding import TableEncoder
from generator.errors import LongtailInputError
from generator.schema import Role, Schema

OUTPUT_FORMATS = ("csv", "parquet")


def input_column_order(schema: Schema) -> list[str]:
    return list(schema.source.names) if schema.source.names else list(schema.columns)


def format_rows(typed: pd.DataFrame, schema: Schema, encoder: TableEncoder, *, extra_columns: list[str] | None = None) -> pd.DataFrame:
    """Return typed rows as the input wrote them: integers stay integers, timestamps keep their unit or format."""
    columns = {}
    for name in input_column_order(schema):
        spec = schema.columns[name]
        values = typed[name]
        if spec.role is Role.NUMERICAL:
            columns[name] = values.round().astype("Int64") if encoder.continuous[name].integer else values.astype("float64")
        elif spec.role is Role.DATETIME:
            columns[name] = format_datetime(values.to_numpy(dtype="float64"), spec.format or "iso")
        else:
            columns[name] = values.astype(object)
    for name in extra_columns or []:
        columns[name] = typed[name]
    return pd.DataFrame(columns)


def format_datetime(seconds: np.ndarray, fmt: str) -> pd.Series:
    if fmt == "unix_s":
        return pd.Series(np.round(seconds)).astype("Int64")
    if fmt == "unix_ms":
        return pd.Series(np.round(seconds * 1000)).astype("Int64")
    stamps = pd.to_datetime(pd.Series(seconds), unit="s", utc=True)
    if fmt == "iso":
        return stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype(object)
    return stamps.dt.strftime(fmt).astype(object)


def output_format(path: Path, fmt: str | None) -> str:
    chosen = fmt or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if chosen not in OUTPUT_FORMATS:
        raise LongtailInputError(f"Unknown output format {chosen!r}; use one of {list(OUTPUT_FORMATS)}.")
    return chosen


def write_rows(rows: pd.DataFrame, path: str | Path, *, fmt: str | None = None, header: bool = True, delimiter: str = ",") -> Path:
    """Write rows to CSV or Parquet through a temporary file, so a failure leaves no partial file."""
    path = Path(path)
    chosen = output_format(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if chosen == "parquet":
            rows.to_parquet(partial, index=False)
        else:
            rows.to_csv(partial, index=False, header=header, sep=delimiter)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
