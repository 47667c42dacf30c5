"""Shared fixtures: paths to the real datasets and small trained models, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

# One torch thread per process: the suite runs servers and CLI subprocesses beside the test process, and
# oversubscribed torch threads on a 2-core machine make training tens of times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EXAMPLES = ROOT / "examples"
TAOBAO = DATA / "taobao" / "user_behavior_814_users.csv"
SHOPPERS = DATA / "online_shoppers" / "online_shoppers_intention.csv"
ADULT = DATA / "adult" / "adult.data"
BANK = DATA / "bank_marketing" / "bank-full.csv"


def pytest_collection_modifyitems(config, items):
    if not DATA.is_dir():
        skip = pytest.mark.skip(reason=f"real datasets not found at {DATA}")
        for item in items:
            if "real_data" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def taobao_schema():
    from generator.schema import Schema

    return Schema.from_file(EXAMPLES / "taobao.yaml")


@pytest.fixture(scope="session")
def taobao_raw(taobao_schema):
    from generator.loading import load_table

    return load_table(TAOBAO, taobao_schema.source)


@pytest.fixture(scope="session")
def taobao_model(taobao_raw, taobao_schema):
    """A model of the Taobao `buy` minority, trained briefly."""
    from generator.model import TrainingSettings, train

    settings = TrainingSettings(epochs=10, seed=11, batch_size=500, max_transformer_rows=3000)
    return train(taobao_raw, taobao_schema, settings, source=str(TAOBAO), model_id="taobao-buy")


@pytest.fixture(scope="session")
def shoppers_conditional_model():
    """A model of every online shoppers session, conditioned on Revenue."""
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.schema import Schema

    schema = Schema.from_file(EXAMPLES / "online_shoppers.yaml")
    raw = load_table(SHOPPERS, schema.source)
    settings = TrainingSettings(epochs=25, seed=5, mode="conditional", batch_size=500, max_transformer_rows=3000)
    return train(raw, schema, settings, source=str(SHOPPERS), model_id="shoppers-all")


@pytest.fixture()
def registry(tmp_path):
    from generator.registry import Registry

    return Registry(tmp_path / "models", hmac_key=b"test-key")
