"""Tests for generator.fidelity, checked against SDMetrics' QualityReport on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sdmetrics.reports.single_table import QualityReport

from generator.errors import ArtifactIntegrityError, InvalidDataError, LongtailInputError, SchemaError
from generator.fidelity import ReferenceProfile, compute_fidelity
from generator.fidelity_privacy import DCRReference

# SDMetrics' KSComplement warns when scipy falls back to the asymptotic KS test.
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]  # fmt: skip
TAOBAO_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
TAOBAO_TYPES = {"category_id": "categorical", "behavior_type": "categorical", "timestamp": "datetime"}


def split_halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[order[:half]].reset_index(drop=True), frame.iloc[order[half:]].reset_index(drop=True)


def shuffle_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Shuffle every column on its own: column shapes stay, pair trends break."""
    damaged = frame.copy()
    for position, column in enumerate(damaged.columns):
        damaged[column] = damaged[column].sample(frac=1.0, random_state=position).to_numpy()
    return damaged


def sdmetrics_report(real: pd.DataFrame, synthetic: pd.DataFrame, column_types: dict[str, str]) -> QualityReport:
    metadata = {"columns": {column: {"sdtype": column_type} for column, column_type in column_types.items()}}
    report = QualityReport()
    report.generate(real[list(column_types)], synthetic[list(column_types)], metadata, verbose=False)
    return report


@pytest.fixture(scope="module")
def shoppers() -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.read_csv(DATA / "online_shoppers" / "online_shoppers_intention.csv")
    frame = frame[frame["Revenue"]].reset_index(drop=True)
    column_types = {column: "numerical" for column in frame.columns[:10]}
    for column in ["Month", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType"]:
        column_types[column] = "categorical"
    column_types["Weekend"] = "boolean"
    column_types["Revenue"] = "boolean"
    return frame, column_types


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.read_csv(
        DATA / "adult" / "adult.data", header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?"
    )
    frame = frame[frame["income"] == ">50K"].reset_index(drop=True)
    column_types = {column: "numerical" if frame[column].dtype.kind in "if" else "categorical" for column in frame}
    return frame, column_types


@pytest.fixture(scope="module")
def taobao() -> pd.DataFrame:
    return pd.read_csv(DATA / "taobao" / "user_behavior_814_users.csv", header=None, names=TAOBAO_COLUMNS)


@pytest.fixture(scope="module")
def shoppers_profile(shoppers):
    frame, column_types = shoppers
    train, other = split_halves(frame, seed=0)
    holdout, batch = split_halves(other, seed=1)
    profile = ReferenceProfile.build(train, column_types, seed=3, holdout=holdout)
    return profile, train, batch


@pytest.mark.parametrize("dataset", ["shoppers", "adult"])
def test_compute_fidelity_overall_matches_sdmetrics(dataset, request):
    frame, column_types = request.getfixturevalue(dataset)
    real, other = split_halves(frame, seed=0)
    damaged = shuffle_columns(other)
    profile = ReferenceProfile.build(real, column_types, seed=3)

    ours = {name: compute_fidelity(batch, profile)["scores"] for name, batch in [("other", other), ("damaged", damaged)]}
    theirs = {name: sdmetrics_report(real, batch, column_types) for name, batch in [("other", other), ("damaged", damaged)]}

    for name in ("other", "damaged"):
        assert ours[name]["overall"] == pytest.approx(theirs[name].get_score(), abs=0.02)
        properties = theirs[name].get_properties().set_index("Property")["Score"]
        assert ours[name]["column_shapes"] == pytest.approx(properties["Column Shapes"], abs=0.02)
        assert ours[name]["column_pair_trends"] == pytest.approx(properties["Column Pair Trends"], abs=0.02)
    assert ours["other"]["overall"] > ours["damaged"]["overall"]
    assert theirs["other"].get_score() > theirs["damaged"].get_score()


def test_compute_fidelity_exact_when_under_caps(shoppers):
    # About 950 real rows fit the 2000-value sketch, so every metric is exact.
    frame, column_types = shoppers
    real, other = split_halves(frame, seed=0)
    profile = ReferenceProfile.build(real, column_types, seed=3)

    fidelity = compute_fidelity(other, profile)
    report = sdmetrics_report(real, other, column_types)

    details = report.get_details("Column Shapes").set_index("Column")["Score"]
    for column, entry in fidelity["column_shapes"].items():
        assert entry["exact"] is True
        assert entry["score"] == pytest.approx(details[column], abs=1e-9)
    assert fidelity["scores"]["overall"] == pytest.approx(report.get_score(), abs=1e-9)


def test_compute_fidelity_pairs_follow_sdmetrics_thresholds(shoppers):
    frame, column_types = shoppers
    real, other = split_halves(frame, seed=0)
    profile = ReferenceProfile.build(real, column_types, seed=3)

    trends = compute_fidelity(other, profile)["column_pair_trends"]
    details = sdmetrics_report(real, other, column_types).get_details("Column Pair Trends")
    counted = details[details["Meets Threshold?"].astype("boolean").fillna(False)]

    n_columns = len(column_types)
    assert len(trends["pairs"]) == len(counted)
    assert len(trends["pairs"]) + trends["pairs_below_threshold"] == n_columns * (n_columns - 1) // 2
    assert trends["pairs_skipped"] == 0
    for pair in trends["pairs"]:
        row = counted[(counted["Column 1"] == pair["columns"][0]) & (counted["Column 2"] == pair["columns"][1])]
        assert pair["metric"] == row["Metric"].item()
        assert pair["score"] == pytest.approx(row["Score"].item(), abs=1e-9)


def test_compute_fidelity_max_pairs_keeps_strongest(adult):
    frame, column_types = adult
    real, other = split_halves(frame, seed=0)
    full = ReferenceProfile.build(real, column_types, seed=3)
    capped = ReferenceProfile.build(real, column_types, seed=3, max_pairs=2)

    all_pairs = compute_fidelity(other, full)["column_pair_trends"]["pairs"]
    trends = compute_fidelity(other, capped)["column_pair_trends"]

    strength = {tuple(pair["columns"]): abs(pair.get("real_correlation", pair.get("real_association"))) for pair in all_pairs}
    strongest = sorted(strength, key=strength.__getitem__, reverse=True)[:2]
    assert len(all_pairs) > 2
    assert sorted(tuple(pair["columns"]) for pair in trends["pairs"]) == sorted(strongest)
    assert trends["pairs_skipped"] == len(all_pairs) - 2
    assert trends["max_pairs"] == 2


def test_compute_fidelity_exact_copy_share_ten_percent(shoppers_profile):
    profile, train, batch = shoppers_profile
    copies = train.iloc[:10]
    fresh = batch.merge(train.drop_duplicates(), how="left", indicator=True)
    fresh = fresh[fresh["_merge"] == "left_only"].drop(columns="_merge").iloc[:90]
    mixed = pd.concat([copies, fresh], ignore_index=True)

    privacy = compute_fidelity(mixed, profile)["privacy"]

    assert len(mixed) == 100
    assert privacy["exact_copy_share"] == pytest.approx(0.10)
    assert privacy["exact_copy_share_estimated"] is False


def test_compute_fidelity_exact_copy_share_counts_id_columns(taobao):
    buy = taobao[taobao["behavior_type"] == "buy"]
    profile = ReferenceProfile.build(buy, TAOBAO_TYPES, seed=0)
    renamed = buy.iloc[:50].assign(user_id=buy["user_id"].iloc[:50] + 10**9)

    assert compute_fidelity(buy.iloc[:50], profile)["privacy"]["exact_copy_share"] == 1.0
    assert compute_fidelity(renamed, profile)["privacy"]["exact_copy_share"] == 0.0


def test_compute_fidelity_exact_copy_share_estimated_above_cap(shoppers):
    frame, column_types = shoppers
    distinct = frame.drop_duplicates().reset_index(drop=True)
    profile = ReferenceProfile.build(distinct, column_types, seed=3, max_row_hashes=500)

    privacy = compute_fidelity(distinct, profile)["privacy"]

    assert len(profile.to_dict()["copies"]["row_hashes"]) == 500
    assert privacy["exact_copy_share_estimated"] is True
    # Every stored hash matches once, and 500 * N / 500 / N is exactly 1.
    assert privacy["exact_copy_share"] == pytest.approx(1.0)


def test_compute_fidelity_dcr_with_holdout(shoppers_profile):
    profile, train, batch = shoppers_profile

    copied = compute_fidelity(train, profile)["privacy"]["dcr"]
    fresh = compute_fidelity(batch, profile)["privacy"]["dcr"]

    assert copied["synthetic_median"] == 0.0
    assert copied["ratio"] == 0.0
    assert fresh["holdout_median"] > 0
    assert fresh["ratio"] == pytest.approx(fresh["synthetic_median"] / fresh["holdout_median"])
    assert 0.5 < fresh["ratio"] < 2.0
    assert "note" not in fresh


def test_compute_fidelity_dcr_without_holdout(shoppers):
    frame, column_types = shoppers
    profile = ReferenceProfile.build(frame, column_types, seed=3)

    dcr = compute_fidelity(frame.iloc[:100], profile)["privacy"]["dcr"]

    assert dcr["holdout_median"] is None
    assert dcr["ratio"] is None
    assert dcr["synthetic_median"] == 0.0
    assert "No holdout rows" in dcr["note"]


def test_dcr_distances_match_sdmetrics_definition(shoppers_profile):
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    profile, train, batch = shoppers_profile
    column_types = profile.column_types
    metadata = {"columns": {column: {"sdtype": column_type} for column, column_type in column_types.items()}}
    column_profiles = profile.to_dict()["column_profiles"]

    # SDMetrics takes the ranges from the reference rows, so the whole training
    # half is the reference here. The stored values are rounded to 1e-6.
    reference = DCRReference(DCRReference.build(train, column_types, column_profiles, rows=len(train), seed=0))
    ours = reference.distances(batch.iloc[:50])
    theirs = calculate_dcr(batch.iloc[:50][list(column_types)], train[list(column_types)], metadata).to_numpy()

    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_column_shape_ks_identical_is_one(shoppers):
    frame, _ = shoppers
    column_types = {"ProductRelated_Duration": "numerical"}
    profile = ReferenceProfile.build(frame, column_types, seed=0, sketch_size=len(frame))

    shape = compute_fidelity(frame, profile)["column_shapes"]["ProductRelated_Duration"]

    assert shape["score"] == 1.0
    assert shape["coverage"] == 1.0
    assert shape["exact"] is True


def test_column_shape_ks_sketch_within_bound(shoppers):
    frame, _ = shoppers
    column_types = {"ProductRelated_Duration": "numerical"}
    profile = ReferenceProfile.build(frame, column_types, seed=0, sketch_size=100)

    shape = compute_fidelity(frame, profile)["column_shapes"]["ProductRelated_Duration"]

    assert len(profile.to_dict()["column_profiles"]["ProductRelated_Duration"]["sketch"]) == 100
    assert shape["exact"] is False
    assert shape["score"] >= 1.0 - 1.0 / 100


def test_column_shape_ks_disjoint_ranges_is_zero(shoppers):
    frame, _ = shoppers
    column_types = {"ProductRelated_Duration": "numerical"}
    profile = ReferenceProfile.build(frame, column_types, seed=0)
    values = frame["ProductRelated_Duration"]
    shifted = frame.assign(ProductRelated_Duration=values + values.max() - values.min() + 1.0)

    shape = compute_fidelity(shifted, profile)["column_shapes"]["ProductRelated_Duration"]

    assert shape["score"] == 0.0
    assert shape["coverage"] == 0.0


def test_column_shape_category_truncation_is_upper_bound(taobao):
    buy = taobao[taobao["behavior_type"] == "buy"]
    cart = taobao[taobao["behavior_type"] == "cart"]
    exact = ReferenceProfile.build(buy, {"category_id": "categorical"}, seed=0)
    truncated = ReferenceProfile.build(buy, {"category_id": "categorical"}, seed=0, max_categories=50)

    exact_shape = compute_fidelity(cart, exact)["column_shapes"]["category_id"]
    truncated_shape = compute_fidelity(cart, truncated)["column_shapes"]["category_id"]

    assert exact_shape["exact"] is True
    assert truncated_shape["exact"] is False
    assert truncated_shape["score"] >= exact_shape["score"]
    assert truncated_shape["coverage"] >= exact_shape["coverage"]


def test_column_shape_datetime_strings_match_unix_seconds(taobao):
    as_text = taobao.assign(
        timestamp=pd.to_datetime(taobao["timestamp"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    scores = []
    for frame in (taobao, as_text):
        profile = ReferenceProfile.build(frame[frame["behavior_type"] == "buy"], TAOBAO_TYPES, seed=0)
        scores.append(compute_fidelity(frame[frame["behavior_type"] == "cart"], profile))

    assert scores[0]["column_shapes"]["timestamp"] == scores[1]["column_shapes"]["timestamp"]
    assert scores[0]["scores"] == scores[1]["scores"]


def test_reference_profile_round_trips_through_json(shoppers_profile):
    profile, _, batch = shoppers_profile

    restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))

    assert compute_fidelity(batch, restored) == compute_fidelity(batch, profile)
    assert restored.columns == profile.columns
    assert restored.n_rows == profile.n_rows


def test_reference_profile_size_bounded(taobao):
    small = ReferenceProfile.build(taobao.iloc[:8_000], TAOBAO_TYPES, seed=0, max_row_hashes=5_000)
    large = ReferenceProfile.build(taobao, TAOBAO_TYPES, seed=0, max_row_hashes=5_000)

    small_size = len(json.dumps(small.to_dict()))
    large_size = len(json.dumps(large.to_dict()))

    assert large.n_rows == 84_287
    assert len(large.to_dict()["copies"]["row_hashes"]) == 5_000
    assert len(large.to_dict()["dcr"]["sample"]["timestamp"]) == 2_000
    assert len(large.to_dict()["column_profiles"]["timestamp"]["sketch"]) == 2_000
    assert len(large.to_dict()["column_profiles"]["category_id"]["frequencies"]) == 1_000
    assert large_size < 600_000
    assert large_size < 2 * small_size


def test_compute_fidelity_work_independent_of_training_size(taobao, monkeypatch):
    """The DCR comparisons, the largest cost, depend on the batch and the caps only."""
    compared = []
    original = DCRReference._column_distances

    def counting(self, column, values):
        distances = original(self, column, values)
        compared.append(distances.size)
        return distances

    batch = taobao[taobao["behavior_type"] == "cart"]
    small = ReferenceProfile.build(taobao.iloc[:10_000], TAOBAO_TYPES, seed=0)
    large = ReferenceProfile.build(taobao, TAOBAO_TYPES, seed=0)
    monkeypatch.setattr(DCRReference, "_column_distances", counting)

    compute_fidelity(batch, small)
    small_count = sum(compared)
    compared.clear()
    compute_fidelity(batch, large)

    assert sum(compared) == small_count == len(batch) * 2_000 * len(TAOBAO_TYPES)


def test_compute_fidelity_subsamples_batch(taobao):
    buy = taobao[taobao["behavior_type"] == "buy"]
    profile = ReferenceProfile.build(buy, TAOBAO_TYPES, seed=0)

    first = compute_fidelity(taobao, profile, seed=5, max_rows=3_000)
    second = compute_fidelity(taobao, profile, seed=5, max_rows=3_000)
    other_seed = compute_fidelity(taobao, profile, seed=6, max_rows=3_000)

    assert first["rows"] == 3_000
    assert first["sampled_from"] == len(taobao)
    assert first == second
    assert other_seed["scores"] != first["scores"]


def test_compute_fidelity_is_json(shoppers_profile):
    profile, _, batch = shoppers_profile

    fidelity = compute_fidelity(batch, profile)

    assert json.loads(json.dumps(fidelity, allow_nan=False)) == fidelity
    assert set(fidelity) == {"column_shapes", "column_pair_trends", "privacy", "scores", "rows", "sampled_from"}


def test_compute_fidelity_constant_columns(shoppers_profile):
    profile, train, batch = shoppers_profile
    flat = ReferenceProfile.build(train.assign(flat=2.5), {**profile.column_types, "flat": "numerical"}, seed=3)

    fidelity = compute_fidelity(batch.assign(flat=2.5), flat)

    # Revenue is True in every minority row. SDMetrics gives TVComplement and
    # CategoryCoverage 1 for it, and RangeCoverage NaN for a constant numerical column.
    assert fidelity["column_shapes"]["Revenue"]["score"] == 1.0
    assert fidelity["column_shapes"]["Revenue"]["coverage"] == 1.0
    assert fidelity["column_shapes"]["flat"]["score"] == 1.0
    assert fidelity["column_shapes"]["flat"]["coverage"] is None
    # A pair with a constant column has no Pearson r or Cramér's V, so it never counts.
    for pair in fidelity["column_pair_trends"]["pairs"]:
        assert "Revenue" not in pair["columns"]
        assert "flat" not in pair["columns"]


def test_compute_fidelity_missing_column_raises(shoppers_profile):
    profile, _, batch = shoppers_profile

    with pytest.raises(InvalidDataError, match=r"lack the columns \['Month'\] of the reference profile"):
        compute_fidelity(batch.drop(columns="Month"), profile)


def test_compute_fidelity_empty_batch_raises(shoppers_profile):
    profile, _, batch = shoppers_profile

    with pytest.raises(InvalidDataError, match="synthetic batch is empty"):
        compute_fidelity(batch.iloc[:0], profile)


def test_compute_fidelity_invalid_max_rows_raises(shoppers_profile):
    profile, _, batch = shoppers_profile

    with pytest.raises(LongtailInputError, match="Invalid max_rows 0"):
        compute_fidelity(batch, profile, max_rows=0)


def test_reference_profile_build_invalid_type_raises(shoppers):
    frame, _ = shoppers

    with pytest.raises(SchemaError, match=r"Invalid column type 'text' for column 'Month': use one of"):
        ReferenceProfile.build(frame, {"Month": "text"}, seed=0)


def test_reference_profile_build_unknown_column_raises(shoppers):
    frame, _ = shoppers

    with pytest.raises(SchemaError, match="Column 'month' in column_types is missing from the real rows"):
        ReferenceProfile.build(frame, {"month": "categorical"}, seed=0)


def test_reference_profile_build_empty_raises(shoppers):
    frame, column_types = shoppers

    with pytest.raises(InvalidDataError, match="real rows for the reference profile are empty"):
        ReferenceProfile.build(frame.iloc[:0], column_types, seed=0)


def test_reference_profile_build_holdout_missing_column_raises(shoppers):
    frame, column_types = shoppers

    with pytest.raises(SchemaError, match=r"holdout rows lack the columns \['Month'\]"):
        ReferenceProfile.build(frame, column_types, seed=0, holdout=frame.drop(columns="Month"))


def test_reference_profile_build_invalid_cap_raises(shoppers):
    frame, column_types = shoppers

    with pytest.raises(LongtailInputError, match="Invalid sketch_size 0: it must be an integer >= 1"):
        ReferenceProfile.build(frame, column_types, seed=0, sketch_size=0)


def test_reference_profile_from_dict_version_raises(shoppers_profile):
    profile, _, _ = shoppers_profile
    data = profile.to_dict()
    data["format_version"] = 99

    with pytest.raises(ArtifactIntegrityError, match="format_version 99 is not supported"):
        ReferenceProfile.from_dict(data)


def test_reference_profile_from_dict_malformed_raises(shoppers_profile):
    profile, _, _ = shoppers_profile
    data = profile.to_dict()
    del data["copies"]

    with pytest.raises(ArtifactIntegrityError, match=r"malformed \(KeyError: .*'copies'"):
        ReferenceProfile.from_dict(data)
