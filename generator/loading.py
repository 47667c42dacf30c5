"""Read CSV and Parquet tables as raw strings, then type them by their schema.

CSV files come with or without a header, with any one-character delimiter and
quoted fields; `?` and empty fields are missing by default. Values are read as
strings first so that a bad value can be reported by column and row instead of
silently becoming NaN.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from generator.errors import InvalidDataError, SchemaError
from generator.schema import Role, Schema, SourceOptions

logger = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
CANDIDATE_DELIMITERS = ",;\t|"
TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0"})


def load_table(path: str | Path, source: SourceOptions | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame of strings (CSV) or native types (Parquet).

    Missing values are NaN. Raises InvalidDataError for a missing, empty or
    header-only file.
    """
    path = Path(path)
    source = source or SourceOptions()
    if not path.exists():
        raise InvalidDataError(f"Data file not found: {path}. Check the path; relative paths start at {Path.cwd()}.")
    if not path.is_file():
        raise InvalidDataError(f"Data path {path} is not a file.")
    if path.stat().st_size == 0:
        raise InvalidDataError(f"Data file {path} is empty: it has no header and no rows.")

    if path.suffix.lower() in (".parquet", ".pq"):
        frame = _read_parquet(path)
    else:
        frame = _read_csv(path, source)

    if frame.empty:
        raise InvalidDataError(f"Data file {path} has a header but no rows: {list(frame.columns)}.")
    logger.info("Loaded %s: %d rows, %d columns", path, len(frame), frame.shape[1])
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a damaged file
        raise InvalidDataError(f"Data file {path} is not a readable Parquet file: {error}") from None


def sniff_source(path: str | Path, source: SourceOptions | None = None) -> SourceOptions:
    """Return `source` with the CSV delimiter and header filled in from the file where they are None."""
    path = Path(path)
    source = source or SourceOptions()
    if path.suffix.lower() in (".parquet", ".pq") or not path.is_file():
        return source
    sample = _read_sample(path)
    if not sample.strip():
        return source
    delimiter = source.delimiter or _sniff_delimiter(sample)
    header = source.header if source.header is not None else _sniff_header(sample, delimiter, source)
    return source.model_copy(update={"delimiter": delimiter, "header": header})


def _read_csv(path: Path, source: SourceOptions) -> pd.DataFrame:
    sample = _read_sample(path)
    if not sample.strip():
        raise InvalidDataError(f"Data file {path} is empty: it contains only whitespace.")
    source = sniff_source(path, source)
    delimiter, header = source.delimiter, source.header

    names = source.names
    if names and not header:
        _check_field_count(path, sample, delimiter, names)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            header=0 if header else None,
            names=names if (names and not header) else None,
            dtype=str,
            keep_default_na=False,
            na_values=source.na_values,
            skipinitialspace=True,
            quotechar='"',
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise InvalidDataError(f"Data file {path} is empty: it has no header and no rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InvalidDataError(f"Data file {path} is not valid CSV with delimiter {delimiter!r}: {error}") from None

    if not header and names is None:
        frame.columns = [f"column_{index}" for index in range(frame.shape[1])]
    if header and names is not None and list(frame.columns) != list(names):
        frame.columns = [str(column).strip() for column in frame.columns]
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame


def _check_field_count(path: Path, sample: str, delimiter: str, names: list[str]) -> None:
    """Reject a file without header whose rows have more or fewer fields than the schema names columns."""
    rows = [row for row in csv.reader(sample.splitlines()[:20], delimiter=delimiter, skipinitialspace=True) if row]
    counts = {len(row) for row in rows}
    if counts and counts != {len(names)}:
        raise InvalidDataError(
            f"Rows of {path} have {sorted(counts)} fields, but the schema names {len(names)} columns {names}. "
            "Check that the file matches the schema and that the delimiter is right."
        )


def _read_sample(path: Path) -> str:
    with path.open("rb") as handle:
        raw = handle.read(SNIFF_BYTES)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _sniff_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=CANDIDATE_DELIMITERS).delimiter
    except csv.Error:
        counts = {candidate: lines[0].count(candidate) for candidate in CANDIDATE_DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else ","


def _sniff_header(sample: str, delimiter: str, source: SourceOptions) -> bool:
    """Detect a header: a first row with no number in it above rows that do have numbers."""
    rows = list(csv.reader(sample.splitlines()[:50], delimiter=delimiter, skipinitialspace=True))
    rows = [row for row in rows if row]
    if not rows:
        return False
    first = rows[0]
    if source.names is not None and [field.strip() for field in first] == list(source.names):
        return True
    if any(_is_number(field) for field in first):
        return False
    if len(rows) == 1:
        return True
    numeric_below = any(_is_number(field) for row in rows[1:] for field in row)
    if numeric_below:
        return True
    try:
        return csv.Sniffer().has_header("\n".join(delimiter.join(row) for row in rows))
    except csv.Error:
        return True


def _is_number(text: str) -> bool:
    try:
        float(text.strip().strip('"'))
    except ValueError:
        return False
    return True


def apply_schema(frame: pd.DataFrame, schema: Schema, *, origin: str = "data") -> pd.DataFrame:
    """Return the schema's columns of `frame`, each typed by its role.

    Numerical columns become float64, datetimes become float64 seconds since
    the Unix epoch, and every discrete or key column becomes strings. Raises
    InvalidDataError naming the column, the row and the value that does not fit.
    """
    missing = [name for name in schema.columns if name not in frame.columns]
    if missing:
        raise SchemaError(
            f"Columns {missing} of the schema are not in the {origin}, which has {list(frame.columns)}. "
            "Fix the schema's column names or source.names."
        )

    typed = {}
    for name, spec in schema.columns.items():
        column = frame[name]
        if column.isna().all():
            raise InvalidDataError(
                f"Column {name!r} of the {origin} is empty: all {len(column)} values are missing. "
                "Drop it from the schema or fill it."
            )
        if spec.role is Role.NUMERICAL:
            typed[name] = _to_float(column, name, origin)
        elif spec.role is Role.DATETIME:
            typed[name] = to_epoch_seconds(column, spec.format or "iso", name, origin)
        elif spec.role is Role.BOOLEAN:
            typed[name] = _to_boolean_tokens(column, name, origin)
        else:
            typed[name] = _to_text(column)
    return pd.DataFrame(typed, index=frame.index)


def _to_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(column) and column.dropna().mod(1).eq(0).all():
        column = column.astype("Int64")
    text = column.astype("string").str.strip()
    return text.astype(object).where(column.notna(), None)


def _to_float(column: pd.Series, name: str, origin: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return _reject_infinite(column.astype("float64"), name, origin)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is numerical but row {row} contains {column.iloc[row]!r}, which is not a "
            f"number ({int(bad.sum())} such values). Give the column role 'categorical' or clean the values."
        )
    return _reject_infinite(values.astype("float64"), name, origin)


def _reject_infinite(values: pd.Series, name: str, origin: str) -> pd.Series:
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is numerical but row {row} contains {values.iloc[row]}, which is not a "
            f"finite number ({int(infinite.sum())} such values). Replace it with a finite value or leave it empty."
        )
    return values


def to_epoch_seconds(column: pd.Series, fmt: str, name: str, origin: str) -> pd.Series:
    """Convert a datetime column to float seconds since the Unix epoch (UTC)."""
    if fmt in ("unix_s", "unix_ms"):
        seconds = _to_float(column, name, origin)
        return seconds / 1000.0 if fmt == "unix_ms" else seconds
    parsed = pd.to_datetime(column, format=None if fmt == "iso" else fmt, errors="coerce", utc=True)
    bad = parsed.isna() & column.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is a datetime in format {fmt!r} but row {row} contains "
            f"{column.iloc[row]!r}. Fix the value or the schema's format."
        )
    seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return seconds.astype("float64")


def _to_boolean_tokens(column: pd.Series, name: str, origin: str) -> pd.Series:
    """Map every spelling of true and of false to the column's most frequent spelling of each."""
    text = _to_text(column)
    lowered = text.str.lower() if text.notna().any() else text
    unknown = set(lowered.dropna().unique()) - TRUE_TOKENS - FALSE_TOKENS
    if unknown:
        raise InvalidDataError(
            f"Column {name!r} of the {origin} is boolean but contains {sorted(unknown)[:5]}. "
            "Use true/false, yes/no or 1/0, or give the column role 'categorical'."
        )
    is_true = lowered.isin(TRUE_TOKENS)
    is_false = lowered.isin(FALSE_TOKENS)
    true_token = text[is_true].mode().iat[0] if is_true.any() else "true"
    false_token = text[is_false].mode().iat[0] if is_false.any() else "false"
    return pd.Series(np.where(is_true, true_token, np.where(is_false, false_token, None)), index=column.index, dtype=object)
