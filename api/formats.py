"""Response formats of row batches: JSON, CSV, Parquet and Arrow IPC, chosen by `Accept`.

Every format is written chunk by chunk (`LONGTAIL_STREAM_CHUNK_ROWS` rows at a
time), so the encoded body never exists whole in memory. The batch statistics
(plan and fidelity) come in the JSON body, in the `X-Longtail-Fidelity`
header of every format, in the schema metadata of Parquet and Arrow under the
key `longtail.batch`, and at `GET /v1/batches/{batch_id}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
ARROW = "application/vnd.apache.arrow.stream"

# Accepted media types and the format each selects. The aliases are names older tools send.
MEDIA_TYPES = {
    JSON: JSON,
    CSV: CSV,
    PARQUET: PARQUET,
    "application/x-parquet": PARQUET,
    ARROW: ARROW,
    "application/vnd.apache.arrow.file": ARROW,
}
SUPPORTED = (JSON, CSV, PARQUET, ARROW)
METADATA_KEY = b"longtail.batch"
MAX_FIDELITY_HEADER_BYTES = 16 * 1024


class NotAcceptableError(ValueError):
    """The `Accept` header names no supported format."""


@dataclass(frozen=True)
class _Range:
    media_type: str
    quality: float


def negotiate(accept: str | None) -> str:
    """Return the media type of the response, or raise NotAcceptableError that lists the supported ones."""
    if accept is None or not accept.strip():
        return JSON

    ranges = sorted(_parse_accept(accept), key=lambda item: item.quality, reverse=True)
    for item in ranges:
        if item.quality <= 0:
            continue
        if item.media_type in ("*/*", "application/*"):
            return JSON
        if item.media_type == "text/*":
            return CSV
        if item.media_type in MEDIA_TYPES:
            return MEDIA_TYPES[item.media_type]

    raise NotAcceptableError(
        f"unsupported Accept header {accept!r}: rows are available as {', '.join(SUPPORTED)}"
    )


def _parse_accept(accept: str) -> list[_Range]:
    ranges = []
    for part in accept.split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type:
            ranges.append(_Range(media_type.lower(), quality))
    return ranges


def statistics_headers(batch_id: str, statistics: dict[str, Any]) -> dict[str, str]:
    """Return the headers that carry the batch id and, when small enough, the fidelity as compact JSON."""
    headers = {
        "X-Longtail-Batch-Id": batch_id,
        "X-Longtail-Row-Count": str(statistics["row_count"]),
        "Link": f'</v1/batches/{batch_id}>; rel="describedby"; type="application/json"',
    }
    fidelity = json.dumps(statistics["fidelity"], separators=(",", ":"), ensure_ascii=True, default=_json_default)
    if len(fidelity) <= MAX_FIDELITY_HEADER_BYTES:
        headers["X-Longtail-Fidelity"] = fidelity
    score = overall_score(statistics["fidelity"])
    if score is not None:
        headers["X-Longtail-Fidelity-Score"] = f"{score:.6f}"
    return headers


def overall_score(fidelity: dict[str, Any]) -> float | None:
    """Return `fidelity["scores"]["overall"]`, the overall fidelity score, or None when the batch has none."""
    scores = fidelity.get("scores")
    value = scores.get("overall") if isinstance(scores, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def encode(
    rows: pd.DataFrame,
    media_type: str,
    statistics: dict[str, Any],
    chunk_rows: int,
    column_types: dict[str, pa.DataType] | None = None,
) -> Iterator[bytes]:
    """Yield the body of a batch in the given format, `chunk_rows` rows at a time.

    `column_types` gives the Arrow type of columns whose pandas values carry none, such as every column
    of an empty batch, so that Parquet and Arrow bodies have one schema whatever the row count.
    """
    if media_type == JSON:
        return _encode_json(rows, statistics, chunk_rows)
    if media_type == CSV:
        return _encode_csv(rows, chunk_rows)
    if media_type == PARQUET:
        return _encode_arrow(rows, statistics, chunk_rows, column_types, parquet=True)
    if media_type == ARROW:
        return _encode_arrow(rows, statistics, chunk_rows, column_types, parquet=False)
    raise NotAcceptableError(f"unsupported media type {media_type!r}: expected one of {', '.join(SUPPORTED)}")


def _chunks(rows: pd.DataFrame, chunk_rows: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), chunk_rows):
        yield rows.iloc[start : start + chunk_rows]


def _encode_json(rows: pd.DataFrame, statistics: dict[str, Any], chunk_rows: int) -> Iterator[bytes]:
    header = json.dumps(statistics, separators=(",", ":"), default=_json_default)
    yield header[:-1].encode("utf-8") + b',"rows":['

    first = True
    for chunk in _chunks(rows, chunk_rows):
        records = chunk.to_json(orient="records", date_format="iso")[1:-1]
        if not records:
            continue
        yield (records if first else "," + records).encode("utf-8")
        first = False

    yield b"]}"


def _encode_csv(rows: pd.DataFrame, chunk_rows: int) -> Iterator[bytes]:
    if rows.empty:
        yield rows.to_csv(index=False).encode("utf-8")
        return
    for index, chunk in enumerate(_chunks(rows, chunk_rows)):
        yield chunk.to_csv(index=False, header=index == 0).encode("utf-8")


class _ChunkSink:
    """A write-only file object whose written bytes are taken out after each chunk."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self._parts.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _encode_arrow(
    rows: pd.DataFrame,
    statistics: dict[str, Any],
    chunk_rows: int,
    column_types: dict[str, pa.DataType] | None,
    *,
    parquet: bool,
) -> Iterator[bytes]:
    schema = _typed_schema(pa.Schema.from_pandas(rows, preserve_index=False), column_types or {})
    # Keep pandas' own metadata beside ours, so that nullable dtypes such as Int64 survive the round trip.
    metadata = {**(schema.metadata or {}), METADATA_KEY: json.dumps(statistics, default=_json_default).encode("utf-8")}
    schema = schema.with_metadata(metadata)
    sink = _ChunkSink()
    writer = pq.ParquetWriter(sink, schema) if parquet else pa.ipc.new_stream(sink, schema)

    for chunk in _chunks(rows, chunk_rows):
        table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
        writer.write_table(table)
        data = sink.take()
        if data:
            yield data

    writer.close()
    yield sink.take()


def _typed_schema(schema: pa.Schema, column_types: dict[str, pa.DataType]) -> pa.Schema:
    """Give the null-typed fields of `schema` (columns without a single value) their type from `column_types`."""
    for index, field in enumerate(schema):
        if pa.types.is_null(field.type) and field.name in column_types:
            schema = schema.set(index, field.with_type(column_types[field.name]))
    return schema


def _json_default(value: Any) -> Any:
    """Convert the numpy and pandas scalars that fidelity dicts may contain."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"value of type {type(value).__name__} is not JSON serialisable")


def decode(body: bytes, media_type: str) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Parse a batch body into rows and, for JSON, Parquet and Arrow, the embedded statistics."""
    import io

    if media_type == JSON:
        document = json.loads(body)
        rows = pd.DataFrame.from_records(document.pop("rows"))
        return rows, document
    if media_type == CSV:
        return pd.read_csv(io.BytesIO(body)), None
    if media_type == PARQUET:
        table = pq.read_table(io.BytesIO(body))
    elif media_type == ARROW:
        table = pa.ipc.open_stream(body).read_all()
    else:
        raise NotAcceptableError(f"unsupported media type {media_type!r}: expected one of {', '.join(SUPPORTED)}")
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return table.to_pandas(), json.loads(raw) if raw else None
