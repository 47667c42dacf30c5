"""Tests for generator.balancing, checked against imbalanced-learn's own sampling_strategy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from imblearn.utils import check_sampling_strategy

from generator.balancing import STRING_STRATEGIES, BalancingPlan, plan_balance
from generator.errors import PlanError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

BINARY_COUNTS = {"buy": 1749, "pv": 75693}
MULTICLASS_COUNTS = {"buy": 1749, "cart": 4494, "fav": 2351, "pv": 75693}


def labels_from_counts(counts: dict[str, int]) -> np.ndarray:
    return np.concatenate([np.full(count, label, dtype=object) for label, count in counts.items()])


def imblearn_rows(strategy, counts: dict[str, int]) -> dict[str, int]:
    """Rows per class that imbalanced-learn would add, without the classes that get none."""
    target = check_sampling_strategy(strategy, labels_from_counts(counts), sampling_type="over-sampling")
    return {str(label): int(n_rows) for label, n_rows in target.items() if n_rows > 0}


@pytest.fixture(scope="module")
def taobao_counts() -> dict[str, int]:
    frame = pd.read_csv(
        DATA / "taobao" / "user_behavior_814_users.csv",
        header=None,
        names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"],
        usecols=["behavior_type"],
    )
    return {label: int(count) for label, count in frame["behavior_type"].value_counts().items()}


@pytest.mark.parametrize("strategy", STRING_STRATEGIES)
def test_plan_balance_string_matches_imblearn_binary(strategy):
    plan = plan_balance(strategy, BINARY_COUNTS, generatable=list(BINARY_COUNTS))

    assert plan.n_samples == imblearn_rows(strategy, BINARY_COUNTS)


@pytest.mark.parametrize("strategy", STRING_STRATEGIES)
def test_plan_balance_string_matches_imblearn_multiclass(strategy):
    plan = plan_balance(strategy, MULTICLASS_COUNTS, generatable=list(MULTICLASS_COUNTS))

    assert plan.n_samples == imblearn_rows(strategy, MULTICLASS_COUNTS)
    assert plan.not_generated == {}


@pytest.mark.parametrize("ratio", [0.05, 0.25, 0.5, 0.999, 1.0, 1])
def test_plan_balance_float_matches_imblearn_binary(ratio):
    plan = plan_balance(ratio, BINARY_COUNTS, generatable=["buy"])

    assert plan.n_samples == imblearn_rows(ratio, BINARY_COUNTS)
    assert plan.target_counts["buy"] == BINARY_COUNTS["buy"] + plan.n_samples["buy"]
    assert plan.target_counts["pv"] == BINARY_COUNTS["pv"]


@pytest.mark.parametrize(
    "targets",
    [
        {"buy": 20000},
        {"buy": 1749},
        {"buy": 5000, "pv": 80000},
        {"buy": 75693, "pv": 75693},
    ],
)
def test_plan_balance_dict_matches_imblearn_binary(targets):
    plan = plan_balance(targets, BINARY_COUNTS, generatable=list(BINARY_COUNTS))

    assert plan.n_samples == imblearn_rows(targets, BINARY_COUNTS)
    for label, target in targets.items():
        assert plan.target_counts[label] == target


def test_plan_balance_dict_matches_imblearn_multiclass():
    targets = {"buy": 10000, "cart": 10000, "fav": 2351}

    plan = plan_balance(targets, MULTICLASS_COUNTS, generatable=["buy", "cart", "fav"])

    assert plan.n_samples == imblearn_rows(targets, MULTICLASS_COUNTS)
    assert plan.n_samples == {"buy": 8251, "cart": 5506}
    assert plan.total == 13757


def test_plan_balance_taobao_quarter_buy_only(taobao_counts):
    n_pv = taobao_counts["pv"]
    n_buy = taobao_counts["buy"]

    plan = plan_balance(0.25, taobao_counts, generatable=["buy"])

    assert plan.n_samples == {"buy": int(n_pv * 0.25 - n_buy)}
    assert plan.n_samples["buy"] == 17174
    assert plan.target_counts["buy"] == n_buy + 17174
    assert plan.target_counts["pv"] == n_pv
    assert set(plan.not_generated) == {"cart", "fav"}
    assert "cannot generate class 'cart'" in plan.not_generated["cart"]
    assert plan.total == 17174


def test_plan_balance_taobao_ratio_below_other_class(taobao_counts):
    # int(75693 * 0.05) = 3784 is below the 4494 cart rows, but cart is not
    # generated, so only buy (1749) and fav (2351) are compared with the target.
    plan = plan_balance(0.05, taobao_counts, generatable=["buy"])

    assert plan.n_samples == {"buy": 3784 - 1749}
    assert set(plan.not_generated) == {"fav"}


def test_plan_balance_string_not_generatable_listed(taobao_counts):
    plan = plan_balance("not majority", taobao_counts, generatable=["buy"])

    assert plan.n_samples == {"buy": taobao_counts["pv"] - taobao_counts["buy"]}
    assert sorted(plan.not_generated) == ["cart", "fav"]
    assert plan.target_counts["cart"] == taobao_counts["cart"]
    assert plan.target_counts["fav"] == taobao_counts["fav"]


def test_plan_balance_minority_not_generatable_gives_empty_plan():
    plan = plan_balance("minority", {"a": 10, "b": 3, "c": 5}, generatable=["c"])

    assert plan.n_samples == {}
    assert plan.total == 0
    assert list(plan.not_generated) == ["b"]


def test_plan_balance_ties_resolve_like_imblearn():
    counts = {"b": 5, "a": 5, "c": 9}

    plan = plan_balance("minority", counts, generatable=list(counts))

    assert plan.n_samples == imblearn_rows("minority", counts)
    assert plan.n_samples == {"a": 4}


def test_plan_balance_zero_count_class_is_minority():
    plan = plan_balance("minority", {"buy": 0, "pv": 100}, generatable=["buy"])

    assert plan.n_samples == {"buy": 100}


def test_plan_balance_accepts_numpy_counts():
    counts = {"buy": np.int64(1749), "pv": np.int64(75693)}

    plan = plan_balance(0.25, counts, generatable=["buy"])

    assert plan.n_samples == {"buy": int(75693 * 0.25 - 1749)}
    assert isinstance(plan.class_counts["buy"], int)


def test_plan_balance_to_dict_is_json():
    plan = plan_balance({"buy": 20000}, BINARY_COUNTS, generatable=["buy"])

    data = json.loads(json.dumps(plan.to_dict()))

    assert data == {
        "sampling_strategy": {"buy": 20000},
        "class_counts": {"buy": 1749, "pv": 75693},
        "target_counts": {"buy": 20000, "pv": 75693},
        "n_samples": {"buy": 18251},
        "not_generated": {},
        "total": 18251,
    }


def test_plan_balance_plan_is_frozen():
    plan = plan_balance("auto", BINARY_COUNTS, generatable=["buy"])

    assert isinstance(plan, BalancingPlan)
    with pytest.raises(AttributeError):
        plan.total = 3  # type: ignore[misc]


def test_plan_balance_float_removing_samples_raises():
    with pytest.raises(ValueError, match="remove samples"):
        check_sampling_strategy(0.02, labels_from_counts(BINARY_COUNTS), sampling_type="over-sampling")

    with pytest.raises(PlanError, match=r"0.02 would remove samples: class\(es\) \{'buy': 1749\}"):
        plan_balance(0.02, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_float_zero_rows_raises():
    # int(100 * 0.5 - 50) == 0: imbalanced-learn rejects a ratio that adds no rows.
    with pytest.raises(PlanError, match="would remove samples"):
        plan_balance(0.5, {"a": 50, "b": 100}, generatable=["a"])


@pytest.mark.parametrize("ratio", [0.0, -0.5, 1.5, float("nan"), float("inf")])
def test_plan_balance_float_out_of_range_raises(ratio):
    with pytest.raises(PlanError, match=r"out of range: a float must be in \(0, 1\]"):
        plan_balance(ratio, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_unknown_string_raises():
    with pytest.raises(PlanError, match=r"Unknown sampling_strategy 'most': use one of \['minority'"):
        plan_balance("most", BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_majority_string_raises():
    with pytest.raises(PlanError, match="'majority' cannot be used to add rows"):
        plan_balance("majority", BINARY_COUNTS, generatable=["buy"])


@pytest.mark.parametrize("strategy", [True, None, ["buy"]])
def test_plan_balance_strategy_type_raises(strategy):
    with pytest.raises(PlanError, match="Invalid sampling_strategy"):
        plan_balance(strategy, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_dict_below_count_raises():
    with pytest.raises(PlanError, match=r"Target count 1000 for class 'buy' is below its current count 1749"):
        plan_balance({"buy": 1000}, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_dict_unknown_class_raises():
    with pytest.raises(PlanError, match=r"Class 'cart' in sampling_strategy is not in class_counts \['buy', 'pv'\]"):
        plan_balance({"cart": 5000}, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_dict_not_generatable_raises():
    with pytest.raises(PlanError, match=r"class\(es\) \['cart'\] that the model cannot generate: .* \['buy'\]"):
        plan_balance({"buy": 5000, "cart": 5000}, MULTICLASS_COUNTS, generatable=["buy"])


def test_plan_balance_dict_unchanged_class_not_generatable_allowed():
    plan = plan_balance({"buy": 5000, "cart": 4494}, MULTICLASS_COUNTS, generatable=["buy"])

    assert plan.n_samples == {"buy": 3251}


@pytest.mark.parametrize("target", [-1, 2.5, "many"])
def test_plan_balance_dict_invalid_target_raises(target):
    with pytest.raises(PlanError, match="Invalid target count"):
        plan_balance({"buy": target}, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_empty_dict_raises():
    with pytest.raises(PlanError, match="empty dict"):
        plan_balance({}, BINARY_COUNTS, generatable=["buy"])


def test_plan_balance_empty_counts_raises():
    with pytest.raises(PlanError, match="class_counts {} is empty"):
        plan_balance("auto", {}, generatable=["buy"])


@pytest.mark.parametrize("count", [-3, 1.5, True])
def test_plan_balance_invalid_count_raises(count):
    with pytest.raises(PlanError, match="Invalid count .* for class 'buy'"):
        plan_balance("auto", {"buy": count, "pv": 10}, generatable=["buy"])


def test_plan_balance_single_class_raises():
    with pytest.raises(PlanError, match="at least 2 classes"):
        plan_balance("auto", {"buy": 10}, generatable=["buy"])


def test_plan_balance_all_zero_counts_raises():
    with pytest.raises(PlanError, match="are all 0"):
        plan_balance("auto", {"buy": 0, "pv": 0}, generatable=["buy"])
