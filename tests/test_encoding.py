"""Model-space encoding on Adult's >50K rows: point masses and numerical columns fixed by a category."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from generator.encoding import NOT_POINT_MASS, POINT_MASS_SUFFIX, TableEncoder, _find_determining_column
from generator.loading import apply_schema, load_table
from generator.model import TrainingSettings, train
from generator.profiling import add_derived_columns, build_profile
from generator.schema import Schema
from tests.conftest import ADULT, EXAMPLES

pytestmark = [pytest.mark.real_data]

NUMERICAL = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


@pytest.fixture(scope="module")
def adult_schema():
    return Schema.from_file(EXAMPLES / "adult.yaml")


@pytest.fixture(scope="module")
def adult_minority(adult_schema):
    typed = apply_schema(load_table(ADULT, adult_schema.source), adult_schema)
    profile = build_profile(typed, adult_schema)
    rows = add_derived_columns(typed[typed["income"] == ">50K"], profile)
    return rows, profile


@pytest.fixture(scope="module")
def adult_encoder(adult_schema, adult_minority):
    rows, profile = adult_minority
    return TableEncoder(adult_schema, profile).fit(rows)


def test_encoder_fit_finds_adult_point_masses(adult_encoder):
    continuous = adult_encoder.continuous

    assert continuous["capital_gain"].point_masses == [0.0]
    assert continuous["capital_loss"].point_masses == [0.0]
    assert continuous["hours_per_week"].point_masses == [40.0, 50.0, 45.0, 60.0]
    assert continuous["age"].point_masses == []
    assert continuous["fnlwgt"].point_masses == []


def test_encoder_fit_derives_education_num(adult_encoder):
    spec = adult_encoder.continuous["education_num"]

    assert spec.derived_from == "education"
    assert len(spec.derived_values) == 15
    assert spec.derived_values["Bachelors"] == 13.0
    assert spec.derived_values["Doctorate"] == 16.0
    assert spec.point_masses == []


def test_encoder_discrete_columns_add_point_mass_indicators(adult_encoder):
    indicators = [name for name in adult_encoder.discrete_columns if name.endswith(POINT_MASS_SUFFIX)]

    assert indicators == [f"capital_gain{POINT_MASS_SUFFIX}", f"capital_loss{POINT_MASS_SUFFIX}", f"hours_per_week{POINT_MASS_SUFFIX}"]


def test_encode_leaves_out_derived_column(adult_encoder, adult_minority):
    rows, _ = adult_minority
    encoded = adult_encoder.encode(rows, seed=0)

    assert "education_num" not in encoded.columns
    assert set(encoded.columns) == set(adult_encoder.discrete_columns) | {"age", "fnlwgt", "capital_gain", "capital_loss", "hours_per_week"}


def test_encode_point_mass_rows_hold_spread_values(adult_encoder, adult_minority):
    rows, _ = adult_minority
    encoded = adult_encoder.encode(rows, seed=0)
    indicator = encoded[f"capital_gain{POINT_MASS_SUFFIX}"]

    assert int((indicator == "0.0").sum()) == 6164
    assert int((indicator == NOT_POINT_MASS).sum()) == len(rows) - 6164
    # Zero rows carry other real gains, so the mixture is fitted without a spike at zero.
    assert (encoded["capital_gain"] != 0).all()
    assert set(encoded["capital_gain"]) <= set(rows["capital_gain"])


def test_encode_is_reproducible_from_seed(adult_encoder, adult_minority):
    rows, _ = adult_minority

    pd.testing.assert_frame_equal(adult_encoder.encode(rows, seed=3), adult_encoder.encode(rows, seed=3))


def test_decode_encoded_rows_restores_numbers(adult_encoder, adult_minority):
    rows, _ = adult_minority
    encoded = adult_encoder.encode(rows, seed=0)
    decoded = adult_encoder.decode(encoded.reset_index(drop=True), rng=np.random.default_rng(0))

    for name in NUMERICAL:
        np.testing.assert_array_equal(decoded[name].to_numpy(), rows[name].to_numpy(dtype="float64"), err_msg=name)


def test_find_determining_column_rejects_sparse_categories(adult_minority):
    rows, _ = adult_minority
    few = rows.head(50)

    # The first 50 rows contain 9 education values: under 10 rows per category on average.
    assert _find_determining_column(few, "education_num", ["education"]) == (None, {})
    assert _find_determining_column(rows, "education_num", ["education"])[0] == "education"


def test_find_determining_column_skips_undetermined_column(adult_minority):
    rows, _ = adult_minority

    assert _find_determining_column(rows, "age", ["workclass", "education", "race", "sex"]) == (None, {})


@pytest.mark.slow
def test_sample_adult_education_num_matches_education(adult_schema):
    raw = load_table(ADULT, adult_schema.source).head(4000)
    settings = TrainingSettings(epochs=1, seed=5, max_transformer_rows=1000, fidelity_rows=100)
    model = train(raw, adult_schema, settings)

    rows = model.sample(1000, seed=1).rows
    expected = rows["education"].map(model.encoder.continuous["education_num"].derived_values)

    assert rows["education_num"].notna().all()
    np.testing.assert_array_equal(rows["education_num"].to_numpy(dtype="float64"), expected.to_numpy(dtype="float64"))
