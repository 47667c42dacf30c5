"""Response formats: content negotiation, chunked encoding and the embedded statistics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from api import formats

STATISTICS = {
    "batch_id": "b1",
    "model_id": "m",
    "version": 1,
    "row_count": 25,
    "match_rate": 0.5,
    "plan": None,
    "fidelity": {"scores": {"overall": np.float64(0.75), "column_shapes": 0.8}},
}


def frame(rows: int = 25) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(rows)],
            "timestamp": pd.array(np.arange(rows) + 1_511_000_000, dtype="Int64"),
            "behavior_type": ["buy"] * rows,
            "price": np.linspace(0.0, 1.0, rows),
        }
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, formats.JSON),
        ("", formats.JSON),
        ("*/*", formats.JSON),
        ("application/json", formats.JSON),
        ("text/csv", formats.CSV),
        ("application/vnd.apache.parquet", formats.PARQUET),
        ("application/x-parquet", formats.PARQUET),
        ("application/vnd.apache.arrow.stream", formats.ARROW),
        ("text/html;q=0.9, text/csv;q=0.5", formats.CSV),
        ("text/csv;q=0.2, application/vnd.apache.arrow.stream;q=0.8", formats.ARROW),
        ("application/json;q=0, text/csv", formats.CSV),
    ],
)
def test_negotiate_picks_supported_format(accept, expected):
    assert formats.negotiate(accept) == expected


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png;q=1", "text/csv;q=0"])
def test_negotiate_rejects_unsupported_accept(accept):
    with pytest.raises(formats.NotAcceptableError, match="unsupported Accept header .* rows are available as application/json"):
        formats.negotiate(accept)


@pytest.mark.parametrize("media_type", formats.SUPPORTED)
def test_encode_round_trips_rows_in_chunks(media_type):
    rows = frame()

    chunks = list(formats.encode(rows, media_type, STATISTICS, chunk_rows=7))
    decoded, statistics = formats.decode(b"".join(chunks), media_type)

    assert len(chunks) >= 4
    assert list(decoded.columns) == list(rows.columns)
    assert decoded["user_id"].tolist() == rows["user_id"].tolist()
    assert decoded["timestamp"].astype("int64").tolist() == rows["timestamp"].astype("int64").tolist()
    assert np.allclose(decoded["price"].to_numpy(dtype=float), rows["price"].to_numpy())
    if media_type == formats.CSV:
        assert statistics is None
    else:
        assert statistics["fidelity"]["scores"]["overall"] == 0.75
        assert statistics["batch_id"] == "b1"


@pytest.mark.parametrize("media_type", formats.SUPPORTED)
def test_encode_empty_batch_keeps_columns(media_type):
    rows = frame(0)

    decoded, _ = formats.decode(b"".join(formats.encode(rows, media_type, {**STATISTICS, "row_count": 0}, 7)), media_type)

    assert len(decoded) == 0
    if media_type != formats.JSON:
        assert list(decoded.columns) == list(rows.columns)


def test_encode_json_puts_statistics_before_rows():
    body = b"".join(formats.encode(frame(3), formats.JSON, STATISTICS, chunk_rows=2))
    document = json.loads(body)

    assert list(document)[-1] == "rows"
    assert document["match_rate"] == 0.5
    assert document["rows"][2] == {"user_id": "u2", "timestamp": 1_511_000_002, "behavior_type": "buy", "price": 1.0}


def test_statistics_headers_carry_fidelity_and_score():
    headers = formats.statistics_headers("b1", STATISTICS)

    assert headers["X-Longtail-Batch-Id"] == "b1"
    assert headers["X-Longtail-Row-Count"] == "25"
    assert headers["X-Longtail-Fidelity-Score"] == "0.750000"
    assert json.loads(headers["X-Longtail-Fidelity"]) == {"scores": {"overall": 0.75, "column_shapes": 0.8}}
    assert headers["Link"] == '</v1/batches/b1>; rel="describedby"; type="application/json"'


def test_statistics_headers_leave_out_oversized_fidelity():
    large = {**STATISTICS, "fidelity": {"columns": {f"c{i}": "x" * 100 for i in range(400)}}}

    headers = formats.statistics_headers("b2", large)

    assert "X-Longtail-Fidelity" not in headers
    assert "X-Longtail-Fidelity-Score" not in headers
    assert headers["X-Longtail-Batch-Id"] == "b2"
