"""Fixtures of the audit tests: disjoint splits of the real online shoppers data and one small audit.

Until a test needs a trained model, a "synthetic" table is real minority rows
that are in neither split, so every figure is computed on real data.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import EXAMPLES, SHOPPERS

TRAIN_ROWS = 3000
HOLDOUT_ROWS = 2000
FAST = {"seeds": (0, 1), "max_rows": 3000, "iterations": 20}


@pytest.fixture(scope="session")
def shoppers_schema():
    from generator.schema import Schema

    return Schema.from_file(EXAMPLES / "online_shoppers.yaml")


@pytest.fixture(scope="session")
def shoppers_types(shoppers_schema):
    return {name: spec.role.value for name, spec in shoppers_schema.columns.items()}


@pytest.fixture(scope="session")
def shoppers_splits(shoppers_schema):
    """Training, holdout and spare rows of online shoppers, raw as `load_table` reads them.

    Duplicate rows are dropped first, so that no row falls on two sides.
    """
    from generator.loading import load_table

    raw = load_table(SHOPPERS, shoppers_schema.source).drop_duplicates()
    shuffled = raw.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train = shuffled.iloc[:TRAIN_ROWS].reset_index(drop=True)
    holdout = shuffled.iloc[TRAIN_ROWS : TRAIN_ROWS + HOLDOUT_ROWS].reset_index(drop=True)
    spare = shuffled.iloc[TRAIN_ROWS + HOLDOUT_ROWS :].reset_index(drop=True)
    return train, holdout, spare


@pytest.fixture(scope="session")
def standin_synthetic(shoppers_splits):
    """Real minority rows from neither split, standing in for a model's rows."""
    spare = shoppers_splits[2]
    return spare[spare["Revenue"] == "TRUE"].reset_index(drop=True)


@pytest.fixture(scope="session")
def standin_report(shoppers_splits, standin_synthetic, shoppers_types):
    from generator.audit import run_audit

    train, holdout, _ = shoppers_splits
    return run_audit(
        train, holdout, standin_synthetic, label="Revenue", minority_values=["TRUE"], column_types=shoppers_types, **FAST
    )


def damage(rows: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Return a copy of `rows` whose columns are shuffled independently and whose numbers are scaled by 3.

    Every column keeps its values, but the joint distribution is destroyed.
    """
    damaged = rows.copy()
    for offset, name in enumerate(damaged.columns):
        damaged[name] = damaged[name].sample(frac=1.0, random_state=seed + offset).to_numpy()
    for name in ("ProductRelated_Duration", "PageValues", "ExitRates"):
        damaged[name] = pd.to_numeric(damaged[name]) * 3
    return damaged
