"""Input checks of the audit: schema mismatch, shared rows, missing minority rows, too few synthetic rows."""

from __future__ import annotations

import pandas as pd
import pytest

from generator.audit import run_audit
from generator.audit._inputs import check_no_overlap, normalize, stratified_subsample, synthetic_rows_needed
from generator.errors import InvalidDataError, PlanError, SchemaError
from tests.audit.conftest import FAST


def _audit(train, holdout, synthetic, types):
    return run_audit(train, holdout, synthetic, label="Revenue", minority_values=["TRUE"], column_types=types, **FAST)


def test_run_audit_holdout_missing_column(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits

    with pytest.raises(SchemaError, match=r"holdout columns do not match the model's schema: missing \['Weekend'\], unexpected \[\]"):
        _audit(train, holdout.drop(columns=["Weekend"]), standin_synthetic, shoppers_types)


def test_run_audit_holdout_extra_column(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits

    with pytest.raises(SchemaError, match=r"missing \[\], unexpected \['session_id'\]"):
        _audit(train, holdout.assign(session_id="x"), standin_synthetic, shoppers_types)


def test_run_audit_holdout_sharing_rows(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits
    leaky = pd.concat([holdout, train.iloc[:50]], ignore_index=True)

    with pytest.raises(InvalidDataError, match=r"holdout shares 50 of its 2050 rows \(2\.44%\) with the training data \(holdout rows \[2000, 2001, 2002, 2003, 2004\]"):
        _audit(train, leaky, standin_synthetic, shoppers_types)


def test_run_audit_holdout_without_minority(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits
    majority_only = holdout[holdout["Revenue"] == "FALSE"]

    with pytest.raises(InvalidDataError, match=r"holdout has no minority rows: no value of 'Revenue' is in \['TRUE'\]"):
        _audit(train, majority_only, standin_synthetic, shoppers_types)


def test_run_audit_too_few_synthetic_rows(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits

    # 3000 training rows with 465 minority rows need int(0.5 * 2535) - 465 = 802 synthetic rows.
    with pytest.raises(PlanError, match=r"Too few synthetic rows .* \('TRUE': 100 of 802 needed rows\)"):
        _audit(train, holdout, standin_synthetic.iloc[:100], shoppers_types)


def test_run_audit_synthetic_majority_rows(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, spare = shoppers_splits
    mixed = pd.concat([standin_synthetic, spare[spare["Revenue"] == "FALSE"].iloc[:5]], ignore_index=True)

    with pytest.raises(InvalidDataError, match=r"synthetic rows have 'Revenue' values \['FALSE'\] outside the minority"):
        _audit(train, holdout, mixed, shoppers_types)


def test_run_audit_unknown_column_type(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits
    types = {**shoppers_types, "Month": "ordinal"}

    with pytest.raises(SchemaError, match=r"Unknown column types \{'Month': 'ordinal'\}"):
        _audit(train, holdout, standin_synthetic, types)


def test_run_audit_sampling_strategy_out_of_range(shoppers_splits, standin_synthetic, shoppers_types):
    train, holdout, _ = shoppers_splits

    with pytest.raises(PlanError, match=r"sampling_strategy=1\.5 must be a minority-to-majority ratio in \(0, 1\]"):
        run_audit(train, holdout, standin_synthetic, label="Revenue", minority_values=["TRUE"],
                  column_types=shoppers_types, sampling_strategy=1.5)


def test_synthetic_rows_needed_split_by_value():
    frame = pd.DataFrame({"label": ["no"] * 90 + ["a"] * 6 + ["b"] * 4})

    needed = synthetic_rows_needed(frame, label="label", minority_values=["a", "b"], sampling_strategy=0.5)

    # Target 45 minority rows for 90 majority rows: 35 new ones, shared 6:4.
    assert needed == {"a": 21, "b": 14}


def test_synthetic_rows_needed_already_balanced():
    frame = pd.DataFrame({"label": ["no"] * 10 + ["yes"] * 6})

    with pytest.raises(PlanError, match=r"already has 6 minority rows for 10 majority rows \(ratio 0\.600\)"):
        synthetic_rows_needed(frame, label="label", minority_values=["yes"], sampling_strategy=0.5)


def test_stratified_subsample_keeps_class_shares():
    frame = pd.DataFrame({"label": ["no"] * 900 + ["yes"] * 100, "value": range(1000)})
    strata = frame["label"].to_numpy()

    sample = stratified_subsample(frame, strata, 200, seed=0)

    assert len(sample) == 200
    assert (sample["label"] == "yes").sum() == 20
    assert sample["value"].is_unique


def test_check_no_overlap_ignores_number_format():
    types = {"amount": "numerical", "kind": "categorical"}
    train = normalize(pd.DataFrame({"amount": ["1", "2.5"], "kind": ["a", "b"]}), types, "training data")
    holdout = normalize(pd.DataFrame({"amount": [1.0, 3.0], "kind": ["a", "b"]}), types, "holdout")

    with pytest.raises(InvalidDataError, match=r"holdout shares 1 of its 2 rows \(50\.00%\)"):
        check_no_overlap(train, holdout)


def test_normalize_rejects_text_in_numerical_column():
    frame = pd.DataFrame({"amount": ["1", "lots"]})

    with pytest.raises(InvalidDataError, match=r"Column 'amount' of the holdout is numerical but contains 'lots'"):
        normalize(frame, {"amount": "numerical"}, "holdout")
