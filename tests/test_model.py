"""Training and sampling on the real logs: exact conditions, real ids, ranges, balance, reproducibility."""

from __future__ import annotations

import pandas as pd
import pytest

from generator.errors import ConditionError, InvalidDataError, LimitExceededError, LongtailInputError, PlanError
from generator.loading import apply_schema, load_table
from generator.model import TrainingSettings, train
from generator.schema import Schema
from tests.conftest import EXAMPLES, SHOPPERS

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def taobao_typed(taobao_raw, taobao_schema):
    return apply_schema(taobao_raw, taobao_schema)


def test_sample_taobao_every_row_is_buy(taobao_model, taobao_typed):
    result = taobao_model.sample(5000, conditions={"behavior_type": "buy"}, seed=1)
    rows = result.rows

    assert len(rows) == 5000
    assert (rows["behavior_type"] == "buy").all()
    assert rows["item_id"].isin(set(taobao_typed["item_id"])).all()
    assert rows["category_id"].isin(set(taobao_typed["category_id"])).all()
    assert 0 < result.match_rate <= 1


def test_sample_taobao_item_category_pairs_are_real(taobao_model, taobao_typed):
    rows = taobao_model.sample(2000, seed=2).rows
    real_pairs = set(zip(taobao_typed["item_id"], taobao_typed["category_id"]))
    assert all(pair in real_pairs for pair in zip(rows["item_id"], rows["category_id"]))


def test_sample_taobao_timestamps_in_range_and_integer(taobao_model, taobao_typed):
    rows = taobao_model.sample(3000, seed=3).rows
    stamps = rows["timestamp"]
    assert str(stamps.dtype) == "Int64"
    assert stamps.notna().all()
    # The model learns the buy rows, so the range is that of the buy rows that trained it.
    assert stamps.min() >= taobao_typed["timestamp"].min()
    assert stamps.max() <= taobao_typed["timestamp"].max()


def test_sample_taobao_tail_items_are_real_tail(taobao_model, taobao_typed):
    counts = taobao_typed["item_id"].value_counts()
    # With the default head share of 0.8, the boundary falls among items seen once, which all join the tail.
    seen_once = set(counts[counts == 1].index)
    assert taobao_model.profile.summary()["items"]["tail_items"] == len(seen_once) == 40_793

    rows = taobao_model.sample(5000, conditions={"behavior_type": "buy", "item_tier": "tail"}, seed=4).rows
    assert len(rows) == 5000
    assert (rows["behavior_type"] == "buy").all()
    assert rows["item_id"].isin(seen_once).all()


def test_sample_derived_weekday_condition(taobao_model):
    result = taobao_model.sample(1000, conditions={"timestamp_weekday": "Sat"}, seed=5, include_derived=True)
    stamps = pd.to_datetime(result.rows["timestamp"].astype("int64"), unit="s", utc=True)
    assert (result.rows["timestamp_weekday"] == "Sat").all()
    assert (stamps.dt.dayofweek == 5).all()


def test_sample_rare_category_condition(taobao_model, taobao_typed):
    rare = taobao_model.encoder.discrete["category_id"].rare_values[0]
    rows = taobao_model.sample(50, conditions={"category_id": rare}, seed=6).rows
    assert (rows["category_id"] == rare).all()
    items_of_category = set(taobao_typed.loc[taobao_typed["category_id"] == rare, "item_id"])
    assert rows["item_id"].isin(items_of_category).all()


def test_sample_new_user_ids_are_not_real(taobao_model, taobao_typed):
    rows = taobao_model.sample(500, seed=7, user_ids="new").rows
    assert not rows["user_id"].isin(set(taobao_typed["user_id"])).any()
    assert rows["user_id"].str.fullmatch(r"\d+").all()


def test_sample_real_user_ids_are_real(taobao_model, taobao_typed):
    rows = taobao_model.sample(500, seed=7, user_ids="real").rows
    assert rows["user_id"].isin(set(taobao_typed["user_id"])).all()


def test_sample_same_seed_same_rows(taobao_model):
    first = taobao_model.sample(300, conditions={"item_tier": "head"}, seed=8).rows
    again = taobao_model.sample(300, conditions={"item_tier": "head"}, seed=8).rows
    other = taobao_model.sample(300, conditions={"item_tier": "head"}, seed=9).rows
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_sample_unknown_condition_column(taobao_model):
    with pytest.raises(ConditionError, match=r"Unknown condition column 'colour'\. Columns you can condition on: \['behavior_type'"):
        taobao_model.sample(10, conditions={"colour": "red"})


def test_sample_unknown_condition_value(taobao_model):
    with pytest.raises(ConditionError, match=r"Unknown value 'gold' for condition column 'item_tier'\. Known values: \['tail', 'head'\]|Unknown value 'gold' for condition column 'item_tier'\. Known values: \['head', 'tail'\]"):
        taobao_model.sample(10, conditions={"item_tier": "gold"})


def test_sample_label_value_outside_minority(taobao_model):
    with pytest.raises(ConditionError, match=r"trained on behavior_type values \['buy'\], so it cannot generate 'pv'"):
        taobao_model.sample(10, conditions={"behavior_type": "pv"})


def test_sample_condition_on_key_column(taobao_model):
    with pytest.raises(ConditionError, match=r"Cannot condition on key column 'item_id'"):
        taobao_model.sample(10, conditions={"item_id": "2268318"})


def test_sample_condition_on_numerical_column(taobao_model):
    with pytest.raises(ConditionError, match=r"Cannot condition on datetime column 'timestamp'"):
        taobao_model.sample(10, conditions={"timestamp": "1511544070"})


@pytest.mark.parametrize("rows", [0, -5])
def test_sample_non_positive_rows(taobao_model, rows):
    with pytest.raises(LongtailInputError, match=rf"The number of rows must be at least 1, got {rows}\."):
        taobao_model.sample(rows)


def test_sample_rows_over_limit(taobao_model):
    with pytest.raises(LimitExceededError, match=r"Requested 1001 rows, above the limit of 1000 rows per request \(max_rows\)"):
        taobao_model.sample(1001, max_rows=1000)


def test_augment_taobao_quarter_of_majority(taobao_model):
    result = taobao_model.augment(0.25, seed=10)
    expected = int(75_693 * 0.25 - 1_749)  # imbalanced-learn: n_majority * ratio - n_class
    assert result.plan.n_samples == {"buy": expected} == {"buy": 17_174}
    assert result.plan.target_counts["buy"] == 1_749 + 17_174
    assert len(result.rows) == expected
    assert (result.rows["behavior_type"] == "buy").all()
    assert set(result.plan.not_generated) == {"cart", "fav"}
    assert 0 <= result.fidelity["scores"]["overall"] <= 1


def test_augment_with_caller_counts(taobao_model):
    result = taobao_model.augment({"buy": 1_500}, class_counts={"pv": 5_000, "buy": 1_000}, seed=10)
    assert result.plan.n_samples == {"buy": 500}
    assert len(result.rows) == 500


def test_manifest_records_training(taobao_model):
    manifest = taobao_model.manifest
    assert manifest["minority"]["values"] == ["buy"]
    assert manifest["minority"]["mode"] == "minority"
    assert manifest["seed"] == 11
    assert manifest["data"]["rows"] == 84_287
    assert manifest["data"]["training_rows"] + manifest["data"]["holdout_rows"] == 1_749
    assert manifest["data"]["fingerprint"].startswith("sha256:")
    assert len(manifest["losses"]) == 10
    assert manifest["libraries"]["ctgan"] == "0.12.1"
    assert manifest["profile"]["head_share"] == 0.8
    assert "overall" in manifest["fidelity"]["scores"]


def test_fit_same_seed_same_model_different_seed_differs(taobao_raw, taobao_schema):
    settings = TrainingSettings(epochs=2, seed=21, fidelity_rows=50)
    first = train(taobao_raw, taobao_schema, settings).sample(200, seed=0).rows
    again = train(taobao_raw, taobao_schema, settings).sample(200, seed=0).rows
    other = train(taobao_raw, taobao_schema, settings.model_copy(update={"seed": 22})).sample(200, seed=0).rows
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_train_long_tail_only(taobao_raw, taobao_schema):
    settings = TrainingSettings(epochs=1, seed=3, long_tail_only=True, minority_values=["buy", "cart"], fidelity_rows=50)
    model = train(taobao_raw, taobao_schema, settings)
    assert model.manifest["minority"]["long_tail_only"] is True
    assert model.manifest["minority"]["values"] == ["buy", "cart"]
    rows = model.sample(300, seed=1, include_derived=True).rows
    assert (rows["item_tier"] == "tail").mean() > 0.5


def test_train_minority_value_absent(taobao_raw, taobao_schema):
    with pytest.raises(InvalidDataError, match=r"Minority value\(s\) \['refund'\] not found in label column 'behavior_type', whose values are \['buy', 'cart', 'fav', 'pv'\]"):
        train(taobao_raw, taobao_schema, TrainingSettings(epochs=1, minority_values=["refund"]))


def test_train_single_class(taobao_raw, taobao_schema):
    only_pv = taobao_raw[taobao_raw["behavior_type"] == "pv"]
    with pytest.raises(InvalidDataError, match=r"Label column 'behavior_type' has a single class \['pv'\]"):
        train(only_pv, taobao_schema, TrainingSettings(epochs=1))


def test_train_no_class_under_threshold():
    schema = Schema.from_file(EXAMPLES / "adult.yaml").model_copy(update={"minority": Schema.model_fields["minority"].default_factory()})
    raw = load_table(SHOPPERS.parent.parent / "adult" / "adult.data", schema.source)
    with pytest.raises(InvalidDataError, match=r"No class of 'income' is under the share threshold 0\.1: the rarest is '>50K' at 24\.1%"):
        train(raw, schema, TrainingSettings(epochs=1))


@pytest.fixture(scope="module")
def shoppers_typed():
    schema = Schema.from_file(EXAMPLES / "online_shoppers.yaml")
    return apply_schema(load_table(SHOPPERS, schema.source), schema)


def test_unconditional_label_shares_follow_training(shoppers_conditional_model, shoppers_typed):
    rows = shoppers_conditional_model.sample(10_000, seed=12).rows
    real = shoppers_typed["Revenue"].value_counts(normalize=True)
    synthetic = rows["Revenue"].value_counts(normalize=True).reindex(real.index, fill_value=0)
    assert (synthetic - real).abs().max() < 0.02, f"real {real.to_dict()}, synthetic {synthetic.to_dict()}"


def test_unconditional_rare_label_value_share():
    """VisitorType=Other is 0.69% of sessions: ctgan's log-frequency sampling inflates such a value tenfold."""
    data = Schema.from_file(EXAMPLES / "online_shoppers.yaml").model_dump(mode="json", exclude_none=True)
    data["columns"]["Revenue"] = {"role": "boolean"}
    data["columns"]["VisitorType"] = {"role": "label"}
    data["minority"] = {"mode": "conditional"}
    schema = Schema.from_dict(data)
    raw = load_table(SHOPPERS, schema.source)
    model = train(raw, schema, TrainingSettings(epochs=2, seed=3, fidelity_rows=50))

    rows = model.sample(10_000, seed=1).rows
    real = raw["VisitorType"].value_counts(normalize=True)
    synthetic = rows["VisitorType"].value_counts(normalize=True).reindex(real.index, fill_value=0)
    assert real["Other"] < 0.02
    for value in real.index:
        assert abs(synthetic[value] - real[value]) < 0.02, f"{value}: real {real[value]:.4f}, synthetic {synthetic[value]:.4f}"


def test_unconditional_rare_value_not_inflated(shoppers_conditional_model, shoppers_typed):
    rows = shoppers_conditional_model.sample(10_000, seed=12).rows
    real = (shoppers_typed["VisitorType"] == "Other").mean()
    synthetic = (rows["VisitorType"] == "Other").mean()
    # Outside the label the shares are the generator's own, so they depend on training length. Log-frequency
    # sampling would put this value near 10 times its share whatever the training.
    assert synthetic < 3 * real, f"Other: real {real:.4f}, synthetic {synthetic:.4f}"


@pytest.mark.parametrize("column, value", [("VisitorType", "Other"), ("Month", "Feb")])
def test_condition_on_non_first_discrete_column(shoppers_conditional_model, shoppers_typed, column, value):
    result = shoppers_conditional_model.sample(1000, conditions={column: value}, seed=13)
    base_rate = (shoppers_typed[column] == value).mean()
    assert len(result.rows) == 1000
    assert (result.rows[column] == value).all()
    # The corrected conditional vector makes the generator itself produce the value far above its base rate.
    print(f"{column}={value}: match rate {result.match_rate:.4f}, base rate {base_rate:.4f}")
    assert result.match_rate > 10 * base_rate, f"match rate {result.match_rate:.4f}, base rate {base_rate:.4f}"


def test_condition_on_two_columns(shoppers_conditional_model):
    rows = shoppers_conditional_model.sample(300, conditions={"Revenue": "TRUE", "VisitorType": "New_Visitor"}, seed=14).rows
    assert (rows["Revenue"] == "TRUE").all()
    assert (rows["VisitorType"] == "New_Visitor").all()


def test_boolean_condition_is_case_insensitive(shoppers_conditional_model):
    rows = shoppers_conditional_model.sample(100, conditions={"Weekend": "true"}, seed=15).rows
    assert (rows["Weekend"] == "TRUE").all()


def test_sampled_numbers_keep_range_and_integers(shoppers_conditional_model, shoppers_typed):
    rows = shoppers_conditional_model.sample(2000, seed=16).rows
    assert str(rows["Administrative"].dtype) == "Int64"
    assert str(rows["ProductRelated"].dtype) == "Int64"
    for column in ("Administrative", "ProductRelated_Duration", "BounceRates", "PageValues"):
        assert rows[column].min() >= shoppers_typed[column].min()
        assert rows[column].max() <= shoppers_typed[column].max()
    assert set(rows["Weekend"]) == {"TRUE", "FALSE"}


def test_augment_rejects_label_condition(taobao_model):
    with pytest.raises(ConditionError, match=r"Cannot condition an augmentation on the label 'behavior_type'"):
        taobao_model.augment({"buy": 2000}, conditions={"behavior_type": "pv"})


def test_augment_counts_without_model_classes(taobao_model):
    with pytest.raises(PlanError, match=r"class_counts \{'BUY': 10, 'pv': 100\} has no count for \['buy'\]"):
        taobao_model.augment(0.5, class_counts={"BUY": 10, "pv": 100})


@pytest.mark.parametrize("seed", [-1, 1.5, "a", True, 2**32])
def test_sample_invalid_seed(taobao_model, seed):
    with pytest.raises(LongtailInputError, match=r"The seed must be an integer from 0 to 4294967295"):
        taobao_model.sample(3, seed=seed)


def test_train_invalid_settings_dict(taobao_raw, taobao_schema):
    with pytest.raises(LongtailInputError, match=r"Invalid training settings: epochs: Input should be greater than or equal to 1"):
        train(taobao_raw, taobao_schema, {"epochs": 0})


def test_boolean_spellings_share_one_value(tmp_path):
    rows = ["amount,flag,kind"] + [f"{i},{['true', 'true', 'True', '1', 'no', 'no', 'false'][i % 7]},{'ab'[i % 2]}" for i in range(200)]
    path = tmp_path / "flags.csv"
    path.write_text("\n".join(rows) + "\n")
    schema = Schema.from_dict({"columns": {"amount": {"role": "numerical"}, "flag": {"role": "boolean"}, "kind": {"role": "label"}},
                               "minority": {"mode": "conditional", "values": ["a"]}})
    typed = apply_schema(load_table(path, schema.source), schema)
    assert sorted(typed["flag"].unique()) == ["no", "true"]

    model = train(load_table(path, schema.source), schema, TrainingSettings(epochs=1, seed=1, fidelity_rows=20))
    for spelling in ("1", "TRUE", "yes"):
        rows = model.sample(20, conditions={"flag": spelling}, seed=2).rows
        assert (rows["flag"] == "true").all()


def test_sample_impossible_item_combination(taobao_model, taobao_typed):
    counts = taobao_typed["item_id"].value_counts()
    tail_only = taobao_typed.assign(count=taobao_typed["item_id"].map(counts)).groupby("category_id")["count"].max()
    known = set(taobao_model.condition_columns["category_id"])
    # Every item of this category is seen once in the log, so all its items are tail items.
    category = next(value for value in tail_only[tail_only == 1].index if value in known)
    with pytest.raises(ConditionError, match=rf"No item of the log matches \{{'item_tier': 'head', 'category_id': '{category}'\}} together"):
        taobao_model.sample(10, conditions={"category_id": category, "item_tier": "head"})
