"""The audit's sections on real rows: a disjoint real sample must look real, a damaged copy must not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from generator.audit import run_audit
from generator.audit._inputs import normalize
from generator.audit.privacy import evaluate_privacy
from generator.audit._inputs import row_hashes
from generator.audit.quality import _cramers_v
from generator.audit.summary import compare_strategies
from tests.audit.conftest import FAST, damage


def test_run_audit_standin_looks_real(standin_report):
    # Real rows that neither split contains: a two-sample test cannot tell them apart.
    assert 0.35 < standin_report["detection"]["roc_auc"]["mean"] < 0.65
    assert standin_report["quality"]["score"] > 0.9
    assert standin_report["privacy"]["exact_copy_share"] == 0.0


def test_run_audit_standin_row_counts(standin_report):
    data = standin_report["data"]

    assert data["train_rows"] == 3000
    assert data["train_minority_rows"] == 465
    assert data["holdout_rows"] == 2000
    assert data["synthetic_rows_used"] == {"TRUE": 802}


def test_run_audit_strategies_reach_same_balance(standin_report):
    strategies = {item["name"]: item for item in standin_report["utility"]["strategies"]}

    assert strategies["real"]["train_minority_rows"] == 465
    for name in ("random_oversampling", "smote", "longtail"):
        # int(0.5 * 2535) = 1267 minority rows after resampling, as imbalanced-learn rounds.
        assert strategies[name]["train_minority_rows"] == 1267, name
        assert strategies[name]["train_rows"] == 2535 + 1267, name
    assert strategies["smote"]["method"] == "SMOTE-NC"


def test_run_audit_damaged_copy_detected(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits

    report = run_audit(
        train, holdout, damage(standin_synthetic), label="Revenue", minority_values=["TRUE"],
        column_types=shoppers_types, **FAST,
    )

    assert report["detection"]["roc_auc"]["mean"] > 0.9
    assert report["quality"]["properties"]["Column Pair Trends"] < 0.9
    longtail = next(item for item in report["utility"]["strategies"] if item["name"] == "longtail")
    real = next(item for item in report["utility"]["strategies"] if item["name"] == "real")
    assert longtail["metrics"]["pr_auc"]["mean"] < real["metrics"]["pr_auc"]["mean"]


def test_run_audit_reproducible_from_seed(shoppers_splits, standin_synthetic, shoppers_types, standin_report):
    train, holdout, _ = shoppers_splits

    again = run_audit(
        train, holdout, standin_synthetic, label="Revenue", minority_values=["TRUE"], column_types=shoppers_types, **FAST
    )

    assert {**again, "created_at": None} == {**standin_report, "created_at": None}


def test_run_audit_progress_counts_every_step(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits
    steps = []

    run_audit(
        train, holdout, standin_synthetic, label="Revenue", minority_values=["TRUE"], column_types=shoppers_types,
        seeds=(0,), max_rows=1000, iterations=5, progress=steps.append,
    )

    # checks, quality, privacy, one detection step per seed and five utility fits per seed.
    assert [step.completed for step in steps] == list(range(1, 10))
    assert {step.total for step in steps} == {9}
    assert [step.stage for step in steps][:3] == ["checks", "quality", "detection"]


def test_evaluate_privacy_exact_copies():
    types = {"amount": "numerical", "kind": "categorical"}
    train = normalize(pd.DataFrame({"amount": [0.0, 5.0, 10.0], "kind": ["a", "b", "a"]}), types, "training data")
    synthetic = train.iloc[[0, 1]].reset_index(drop=True)
    holdout = normalize(pd.DataFrame({"amount": [2.5, 10.0], "kind": ["b", "b"]}), types, "holdout")

    privacy = evaluate_privacy(train, synthetic, holdout, types, train_hashes=row_hashes(train))

    assert privacy["exact_copy_share"] == 1.0
    assert privacy["holdout_exact_copy_share"] == 0.0
    assert privacy["dcr"]["synthetic"]["median"] == 0.0
    # Gower distance over two columns, range 10: (2.5, b) is (0.25 + 0) / 2 from (5, b), and (10, b) is
    # (0.5 + 0) / 2 from (5, b), closer than (0 + 1) / 2 from (10, a).
    assert privacy["dcr"]["holdout"]["mean"] == pytest.approx((0.125 + 0.25) / 2)


def test_evaluate_privacy_missing_value_counts_as_far():
    types = {"amount": "numerical"}
    train = pd.DataFrame({"amount": [0.0, 10.0]})
    synthetic = pd.DataFrame({"amount": [np.nan]})

    privacy = evaluate_privacy(train, synthetic, train, types, train_hashes=row_hashes(train))

    assert privacy["dcr"]["synthetic"]["median"] == 1.0


def test_cramers_v_perfect_and_none():
    first = np.array([0, 0, 1, 1] * 25)

    assert _cramers_v(first, first) == pytest.approx(1.0)
    assert _cramers_v(first, np.array([0, 1] * 50)) == pytest.approx(0.0)


def _strategy(name, mean, std):
    metrics = {metric: {"mean": mean, "std": std, "values": [mean]} for metric in ("precision", "recall", "f1", "pr_auc", "roc_auc")}
    return {"name": name, "metrics": metrics}


def test_compare_strategies_verdicts():
    utility = {
        "primary_metric": "pr_auc",
        "strategies": [
            _strategy("real", 0.50, 0.01),
            _strategy("class_weights", 0.60, 0.01),
            _strategy("random_oversampling", 0.553, 0.0),
            {**_strategy("smote", 0.70, 0.02), "method": "SMOTE-NC"},
            _strategy("longtail", 0.55, 0.0),
        ],
    }

    summary = compare_strategies(utility)

    verdicts = {item["baseline"]: item["verdict"] for item in summary["comparisons"] if item["metric"] == "pr_auc"}
    assert verdicts == {
        "real": "better",
        "class_weights": "worse",
        "random_oversampling": "no clear difference",
        "smote": "worse",
    }
    assert summary["headline"][3] == (
        "On PR-AUC, longtail is worse than SMOTE-NC by 0.150 (longtail 0.550 ± 0.000 against 0.700 ± 0.020)."
    )


def test_cramers_v_many_categories_independent():
    rng = np.random.default_rng(0)
    category_ids = rng.integers(0, 300, size=1400)
    days = rng.integers(0, 10, size=1400)

    # The uncorrected statistic is about 0.27 here; the correction keeps independent columns near 0.
    assert _cramers_v(category_ids, days) < 0.15
