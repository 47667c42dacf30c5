"""Loading CSV and Parquet files, typing them by schema, and drafting schemas."""

from __future__ import annotations

import pandas as pd
import pytest

from generator.errors import InvalidDataError, SchemaError
from generator.inference import infer_schema
from generator.loading import apply_schema, load_table, sniff_source
from generator.schema import Role, Schema, SourceOptions
from tests.conftest import ADULT, BANK, EXAMPLES, SHOPPERS, TAOBAO

pytestmark = pytest.mark.real_data


def test_load_taobao_without_header():
    schema = Schema.from_file(EXAMPLES / "taobao.yaml")
    frame = load_table(TAOBAO, schema.source)
    assert frame.shape == (84_287, 5)
    assert list(frame.columns) == ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
    assert frame.iloc[0].tolist() == ["1", "2268318", "2520377", "pv", "1511544070"]


def test_sniff_detects_delimiter_and_header():
    assert sniff_source(BANK).delimiter == ";"
    assert sniff_source(BANK).header is True
    assert sniff_source(SHOPPERS).header is True
    assert sniff_source(TAOBAO).header is False
    assert sniff_source(ADULT).header is False


def test_load_adult_question_mark_is_missing():
    schema = Schema.from_file(EXAMPLES / "adult.yaml")
    typed = apply_schema(load_table(ADULT, schema.source), schema)
    assert typed["workclass"].isna().sum() == 1836
    assert typed["occupation"].isna().sum() == 1843
    assert typed["native_country"].isna().sum() == 583
    assert typed["workclass"].iloc[0] == "State-gov"  # the space after the comma is not part of the value


def test_load_bank_quoted_fields():
    schema = Schema.from_file(EXAMPLES / "bank_marketing.yaml")
    typed = apply_schema(load_table(BANK, schema.source), schema)
    assert typed["job"].iloc[0] == "management"
    assert typed["y"].value_counts().to_dict() == {"no": 39_922, "yes": 5_289}
    assert typed["age"].dtype == "float64"


def test_load_parquet_roundtrip(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "label": ["x", "y"]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert load_table(tmp_path / "t.parquet").equals(frame)


def test_load_missing_file(tmp_path):
    with pytest.raises(InvalidDataError, match=r"Data file not found: .*nope\.csv"):
        load_table(tmp_path / "nope.csv")


def test_load_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InvalidDataError, match=r"empty\.csv is empty"):
        load_table(path)


def test_load_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("user_id,item_id,behavior_type\n")
    with pytest.raises(InvalidDataError, match=r"has a header but no rows: \['user_id', 'item_id', 'behavior_type'\]"):
        load_table(path)


def test_load_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidDataError, match="not a readable Parquet file"):
        load_table(path)


def test_apply_schema_text_in_numerical_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,label\n1.5,a\noops,b\n3,a\n")
    schema = Schema(columns={"amount": {"role": "numerical"}, "label": {"role": "label"}})
    with pytest.raises(InvalidDataError, match=r"Column 'amount' of the data is numerical but row 1 contains 'oops'"):
        apply_schema(load_table(path, schema.source), schema)


def test_apply_schema_all_null_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,note,label\n1,,a\n2,?,b\n")
    schema = Schema(columns={"amount": {"role": "numerical"}, "note": {"role": "categorical"}, "label": {"role": "label"}})
    with pytest.raises(InvalidDataError, match=r"Column 'note' of the data is empty: all 2 values are missing"):
        apply_schema(load_table(path, schema.source), schema)


def test_apply_schema_label_column_absent(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,kind\n1,a\n2,b\n")
    schema = Schema(columns={"amount": {"role": "numerical"}, "label": {"role": "label"}})
    with pytest.raises(SchemaError, match=r"Columns \['label'\] of the schema are not in the data"):
        apply_schema(load_table(path, schema.source), schema)


def test_schema_requires_label():
    with pytest.raises(SchemaError, match="one column needs role 'label'"):
        Schema.from_dict({"columns": {"a": {"role": "numerical"}}})


def test_schema_rejects_unknown_role():
    with pytest.raises(SchemaError, match=r"columns\.a\.role: Input should be 'label'"):
        Schema.from_dict({"columns": {"a": {"role": "text"}, "b": {"role": "label"}}})


def test_schema_datetime_needs_format():
    with pytest.raises(SchemaError, match="a datetime column needs a format"):
        Schema.from_dict({"columns": {"t": {"role": "datetime"}, "b": {"role": "label"}}})


def test_schema_file_missing(tmp_path):
    with pytest.raises(SchemaError, match=r"Schema file not found: .*s\.yaml\. Draft one with `longtail schema infer"):
        Schema.from_file(tmp_path / "s.yaml")


def test_infer_schema_bank():
    source = sniff_source(BANK)
    schema = infer_schema(load_table(BANK, source), source)
    roles = {name: spec.role for name, spec in schema.columns.items()}
    assert roles["y"] is Role.LABEL
    assert roles["age"] is Role.NUMERICAL
    assert roles["job"] is Role.CATEGORICAL
    assert roles["default"] is Role.BOOLEAN
    assert schema.source.delimiter == ";"


def test_infer_schema_keys_and_timestamp(tmp_path):
    frame = pd.read_csv(TAOBAO, header=None, names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"], dtype=str)
    path = tmp_path / "taobao_with_header.csv"
    frame.to_csv(path, index=False)
    source = sniff_source(path)
    schema = infer_schema(load_table(path, source), source)
    roles = {name: spec.role.value for name, spec in schema.columns.items()}
    assert roles == {
        "user_id": "categorical",  # 814 users: under the key threshold of 1,000 distinct values
        "item_id": "item_key",
        "category_id": "categorical",
        "behavior_type": "label",
        "timestamp": "datetime",
    }
    assert schema.columns["timestamp"].format == "unix_s"


def test_sniff_source_keeps_explicit_options():
    source = sniff_source(TAOBAO, SourceOptions(delimiter=",", header=False))
    assert (source.delimiter, source.header) == (",", False)


def test_infer_schema_without_label_candidate(tmp_path):
    path = tmp_path / "single.csv"
    path.write_text("amount,kind\n" + "".join(f"{i * 1.5},a\n" for i in range(40)))
    source = sniff_source(path)
    with pytest.raises(SchemaError, match=r"No column can be the label: a label needs 2 to 20 distinct values"):
        infer_schema(load_table(path, source), source)


def test_apply_schema_infinite_number(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,label\n1.5,a\n2,b\ninf,a\n")
    schema = Schema(columns={"amount": {"role": "numerical"}, "label": {"role": "label"}})
    with pytest.raises(InvalidDataError, match=r"Column 'amount' of the data is numerical but row 2 contains inf, which is not a finite number"):
        apply_schema(load_table(path, schema.source), schema)


def test_load_headerless_field_count_mismatch():
    schema = Schema.from_file(EXAMPLES / "taobao.yaml")
    with pytest.raises(InvalidDataError, match=r"adult\.data have \[15\] fields, but the schema names 5 columns"):
        load_table(ADULT, schema.source)
