"""Tests of the CTGAN engine on the real online shoppers and Taobao data."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from ctgan.data_sampler import DataSampler
from ctgan.data_transformer import DataTransformer
from ctgan.synthesizers.ctgan import Generator

from generator.engine import CTGANEngine, EpochProgress
from generator.engine._conditions import ConditionSampler
from generator.engine._inference import FoldedGenerator
from generator.errors import (
    ArtifactIntegrityError,
    ConditionError,
    InvalidDataError,
    LongtailInputError,
    NotFittedError,
    SchemaError,
    TrainingCancelledError,
)

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHOPPERS_DISCRETE = [
    "Month", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType", "Weekend", "Revenue",
]
# Small networks and few transformer rows keep the fits of a few thousand rows to seconds.
SMALL = {"generator_dim": (64, 64), "discriminator_dim": (64, 64), "max_transformer_rows": 1000}


@pytest.fixture(scope="module", autouse=True)
def fixed_threads():
    """Run torch on one thread: sums keep one order, and no step waits on a thread that another
    process has taken the core from, which made epochs 30 times slower on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def shoppers() -> pd.DataFrame:
    """Online shoppers in model space: the eight discrete columns as strings, the rest float."""
    raw = pd.read_csv(DATA_DIR / "online_shoppers" / "online_shoppers_intention.csv")
    columns = {}
    for name in raw.columns:
        columns[name] = raw[name].astype(str) if name in SHOPPERS_DISCRETE else raw[name].astype(float)
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def taobao() -> pd.DataFrame:
    """Taobao log in model space: behavior_type, hour of day and log item popularity."""
    raw = pd.read_csv(
        DATA_DIR / "taobao" / "user_behavior_814_users.csv",
        header=None,
        names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"],
    )
    return pd.DataFrame(
        {
            "behavior_type": raw["behavior_type"].astype(str),
            "hour": (raw["timestamp"] % 86400) / 3600.0,
            "item_popularity": np.log1p(raw.groupby("item_id")["item_id"].transform("size")).astype(float),
        }
    )


@pytest.fixture(scope="module")
def shoppers_engine(shoppers) -> CTGANEngine:
    return CTGANEngine(epochs=5, seed=11, max_transformer_rows=2000).fit(shoppers, SHOPPERS_DISCRETE)


@pytest.fixture(scope="module")
def small_engine(shoppers) -> CTGANEngine:
    return CTGANEngine(epochs=1, seed=3, **SMALL).fit(shoppers.iloc[:2000], SHOPPERS_DISCRETE)


def test_condition_sampler_uses_cond_offsets():
    counts = [np.array([5, 5, 5]), np.array([1, 2]), np.array([4, 4, 4, 4])]
    sampler = ConditionSampler(counts, log_frequency=True)

    cond = sampler.conditional(3, discrete_index=2, category_index=1)

    assert cond.shape == (3, 9)
    assert cond.sum(dim=1).tolist() == [1.0, 1.0, 1.0]
    assert cond[:, 3 + 2 + 1].tolist() == [1.0, 1.0, 1.0]


def test_ctgan_condvec_requests_first_column(shoppers):
    """ctgan 0.12.1 sets the bit of VisitorType=Other inside the block of Month, the first discrete column."""
    other_visitors = shoppers[shoppers["VisitorType"] == "Other"]
    rows = pd.concat([shoppers.iloc[:300], other_visitors.iloc[:20]])[["ExitRates", *SHOPPERS_DISCRETE]]
    transformer = DataTransformer()
    transformer.fit(rows, SHOPPERS_DISCRETE)
    sampler = DataSampler(transformer.transform(rows), transformer.output_info_list, True)
    info = transformer.convert_column_name_value_to_id("VisitorType", "Other")

    ctgan_bit = int(np.argmax(sampler.generate_cond_from_condition_column_info(info, 1)[0]))

    month_categories = rows["Month"].nunique()
    visitor_type_offset = sum(rows[name].nunique() for name in SHOPPERS_DISCRETE[:5])
    assert ctgan_bit == info["value_id"]
    assert ctgan_bit < month_categories < visitor_type_offset


def test_sample_condition_raises_match_rate(shoppers, shoppers_engine):
    for column, value, min_lift in [("VisitorType", "Other", 5.0), ("Month", "Feb", 1.5)]:
        base_rate = float((shoppers[column] == value).mean())

        rows = shoppers_engine.sample(4000, condition=(column, value), seed=21)
        match_rate = float((rows[column] == value).mean())

        message = f"{column}={value}: match rate {match_rate:.4f}, base rate {base_rate:.4f}"
        assert match_rate > min_lift * base_rate, message


def test_sample_rows_independent_of_batch_size(shoppers_engine):
    """In train mode, BatchNorm would normalise each row with its batch's statistics."""
    rows = shoppers_engine.sample(5000, seed=8)

    for batch_size in [7, 1000]:
        _assert_same_rows(shoppers_engine.sample(5000, seed=8, batch_size=batch_size), rows)
    _assert_same_rows(shoppers_engine.sample(10, seed=8), rows.iloc[:10])


def test_sample_conditional_independent_of_batch_size(shoppers_engine):
    condition = ("VisitorType", "Other")
    rows = shoppers_engine.sample(600, condition=condition, seed=8)

    _assert_same_rows(shoppers_engine.sample(600, condition=condition, seed=8, batch_size=50), rows)


def test_folded_generator_matches_eval_module():
    torch.manual_seed(0)
    network = Generator(20, (32, 16), 9)
    with torch.no_grad():
        for _ in range(5):
            network(torch.randn(64, 20) * 3.0 + 1.0)
    network.eval()
    noise, cond = torch.randn(100, 16), torch.eye(4)[torch.randint(4, (100,))]

    with torch.no_grad():
        expected = network(torch.cat([noise, cond], dim=1))
    actual = FoldedGenerator(network)(noise, cond)

    assert actual.shape == (100, 9)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_sample_follows_training_frequencies(taobao):
    engine = CTGANEngine(epochs=2, seed=7, max_transformer_rows=5000).fit(taobao, ["behavior_type"])

    shares = engine.sample(50_000, seed=1)["behavior_type"].value_counts(normalize=True)

    real_shares = taobao["behavior_type"].value_counts(normalize=True)
    assert real_shares["buy"] == pytest.approx(0.0208, abs=5e-5)
    for value, real_share in real_shares.items():
        assert abs(shares[value] - real_share) < 0.02, f"{value}: {shares[value]:.4f} vs {real_share:.4f}"
    assert engine.value_frequencies("behavior_type")["buy"] == 1749 / 84287
    assert engine.discrete_values() == {"behavior_type": ["buy", "cart", "fav", "pv"]}


def test_fit_same_seed_same_weights(shoppers, tmp_path):
    rows = shoppers.iloc[:2000]
    first = CTGANEngine(epochs=1, seed=5, **SMALL).fit(rows, SHOPPERS_DISCRETE)
    second = CTGANEngine(epochs=1, seed=5, **SMALL).fit(rows, SHOPPERS_DISCRETE)
    other = CTGANEngine(epochs=1, seed=6, **SMALL).fit(rows, SHOPPERS_DISCRETE)
    for name, engine in [("first", first), ("second", second), ("other", other)]:
        engine.save(tmp_path / name)

    weights = {}
    for name in ["first", "second", "other"]:
        weights[name] = torch.load(tmp_path / name / "generator.pt", weights_only=True)

    assert all(torch.equal(weights["first"][key], weights["second"][key]) for key in weights["first"])
    assert not all(torch.equal(weights["first"][key], weights["other"][key]) for key in weights["first"])
    assert _losses_without_time(first) == _losses_without_time(second)
    pd.testing.assert_frame_equal(first.sample(500, seed=2), second.sample(500, seed=2))
    assert not first.sample(500, seed=2).equals(other.sample(500, seed=2))


def test_sample_seed_changes_rows(small_engine):
    rows = small_engine.sample(200, seed=1)

    pd.testing.assert_frame_equal(small_engine.sample(200, seed=1), rows)
    assert not small_engine.sample(200, seed=2).equals(rows)


def test_sample_keeps_columns_and_dtypes(shoppers, small_engine):
    rows = small_engine.sample(300, seed=4)

    assert list(rows.columns) == list(shoppers.columns)
    assert rows.dtypes.to_dict() == shoppers.dtypes.to_dict()
    for name in SHOPPERS_DISCRETE:
        assert set(rows[name]) <= set(shoppers[name]), name
    assert len(rows) == 300


def test_save_load_same_samples(shoppers_engine, tmp_path):
    shoppers_engine.save(tmp_path / "model")

    loaded = CTGANEngine.load(tmp_path / "model")

    pd.testing.assert_frame_equal(loaded.sample(3000, seed=9), shoppers_engine.sample(3000, seed=9))
    condition = ("Month", "Feb")
    pd.testing.assert_frame_equal(
        loaded.sample(500, condition=condition, seed=9),
        shoppers_engine.sample(500, condition=condition, seed=9),
    )
    assert loaded.discrete_values() == shoppers_engine.discrete_values()
    assert loaded.value_frequencies("VisitorType") == shoppers_engine.value_frequencies("VisitorType")
    assert loaded.losses_ == shoppers_engine.losses_
    assert loaded.seed_ == 11
    assert loaded.get_params() == shoppers_engine.get_params()


def test_save_writes_no_pickle(small_engine, tmp_path):
    small_engine.save(tmp_path)

    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["engine.json", "engine_arrays.npz", "generator.pt"]
    metadata = json.loads((tmp_path / "engine.json").read_text())
    assert metadata["format"] == "longtail.ctgan-engine"
    with np.load(tmp_path / "engine_arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)


class _TouchOnUnpickle:
    """Pickle payload that creates a file when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_load_rejects_pickled_weights(small_engine, tmp_path):
    small_engine.save(tmp_path / "model")
    marker = tmp_path / "unpickled"
    torch.save({"payload": _TouchOnUnpickle(marker)}, tmp_path / "model" / "generator.pt")

    with pytest.raises(ArtifactIntegrityError, match="cannot be loaded .*UnpicklingError"):
        CTGANEngine.load(tmp_path / "model")
    assert not marker.exists()


def test_load_rejects_object_arrays(small_engine, tmp_path):
    small_engine.save(tmp_path)
    np.savez(tmp_path / "engine_arrays.npz", counts_10=np.array([{"a": 1}], dtype=object))

    with pytest.raises(ArtifactIntegrityError, match="Object arrays cannot be loaded"):
        CTGANEngine.load(tmp_path)


def test_load_rejects_mismatched_weights(small_engine, tmp_path):
    small_engine.save(tmp_path)
    weights = torch.load(tmp_path / "generator.pt", weights_only=True)
    weights["seq.2.weight"] = weights["seq.2.weight"][:, :5]
    torch.save(weights, tmp_path / "generator.pt")

    with pytest.raises(ArtifactIntegrityError, match="size mismatch"):
        CTGANEngine.load(tmp_path)


def test_load_missing_directory(tmp_path):
    with pytest.raises(ArtifactIntegrityError, match="engine.json"):
        CTGANEngine.load(tmp_path / "absent")


def test_sample_unknown_condition(small_engine):
    unknown_column = r"'Colour' is not a column of the model\. .*'Month', 'OperatingSystems'"
    with pytest.raises(ConditionError, match=unknown_column):
        small_engine.sample(10, condition=("Colour", "red"))
    with pytest.raises(ConditionError, match=r"'ExitRates' is a continuous column"):
        small_engine.sample(10, condition=("ExitRates", "0.2"))
    unknown_value = r"'Jan' was never seen in column 'Month'\. Its values are 'Feb', 'Mar'\.$"
    with pytest.raises(ConditionError, match=unknown_value):
        small_engine.sample(10, condition=("Month", "Jan"))
    with pytest.raises(ConditionError, match=r"must be a \(column, value\) tuple"):
        small_engine.sample(10, condition="Month=Feb")


def test_sample_lists_first_twenty_values(shoppers):
    rows = shoppers.iloc[:2000].copy()
    rows["ProductRelated"] = rows["ProductRelated"].astype(int).astype(str)
    engine = CTGANEngine(epochs=1, seed=1, **SMALL).fit(rows, [*SHOPPERS_DISCRETE, "ProductRelated"])
    values = engine.discrete_values()["ProductRelated"]

    with pytest.raises(ConditionError, match=rf"{values[19]!r} and {len(values) - 20} more\.$"):
        engine.sample(10, condition=("ProductRelated", "-1"))


def test_sample_invalid_row_count(small_engine):
    for n in [0, -5, 2.5, True, "10"]:
        with pytest.raises(LongtailInputError, match=r"^n must be a positive number of rows, got"):
            small_engine.sample(n)
    with pytest.raises(LongtailInputError, match=r"^batch_size must be a positive number of rows, got 0"):
        small_engine.sample(10, batch_size=0)


def test_engine_not_fitted(tmp_path):
    engine = CTGANEngine()

    with pytest.raises(NotFittedError, match=r"not fitted\. Call fit\(\) or CTGANEngine.load\(\) first"):
        engine.sample(10)
    with pytest.raises(NotFittedError, match="not fitted"):
        engine.save(tmp_path)
    with pytest.raises(NotFittedError, match="not fitted"):
        engine.discrete_values()


def test_value_frequencies_unknown_column(small_engine):
    with pytest.raises(ConditionError, match=r"'ExitRates' is not a discrete column of the model"):
        small_engine.value_frequencies("ExitRates")


def test_value_frequencies_match_data(shoppers, small_engine):
    expected = shoppers["VisitorType"].iloc[:2000].value_counts(normalize=True).to_dict()

    assert small_engine.value_frequencies("VisitorType") == pytest.approx(expected, abs=1e-12)


def test_fit_reports_epoch_progress(shoppers):
    progress: list[EpochProgress] = []

    engine = CTGANEngine(epochs=3, seed=2, **SMALL)
    engine.fit(shoppers.iloc[:1000], SHOPPERS_DISCRETE, on_epoch=progress.append)

    assert [p.epoch for p in progress] == [1, 2, 3]
    assert {p.epochs for p in progress} == {3}
    assert progress[-1].eta_seconds == 0.0
    assert progress[0].eta_seconds > 0.0
    assert all(np.isfinite([p.generator_loss, p.discriminator_loss, p.seconds]).all() for p in progress)
    assert [loss["epoch"] for loss in engine.losses_] == [1, 2, 3]
    assert engine.losses_[0]["generator_loss"] == progress[0].generator_loss
    assert engine.seed_ == 2


def test_fit_cancelled_within_epoch(shoppers):
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) == 3

    engine = CTGANEngine(epochs=2, batch_size=100, seed=2, **SMALL)
    with pytest.raises(TrainingCancelledError, match=r"cancelled at epoch 1 of 2, step 3 of 10"):
        engine.fit(shoppers.iloc[:1000], SHOPPERS_DISCRETE, should_stop=should_stop)
    with pytest.raises(NotFittedError):
        engine.sample(5)


def test_fit_cancel_discards_previous_fit(shoppers, tmp_path):
    engine = CTGANEngine(epochs=1, seed=2, **SMALL).fit(shoppers.iloc[:500], SHOPPERS_DISCRETE)

    with pytest.raises(TrainingCancelledError):
        engine.fit(shoppers.iloc[:500], SHOPPERS_DISCRETE, should_stop=lambda: True)
    with pytest.raises(NotFittedError):
        engine.save(tmp_path)


def test_fit_without_seed_records_seed(shoppers):
    rows = shoppers.iloc[:300]
    engine = CTGANEngine(epochs=1, **SMALL).fit(rows, SHOPPERS_DISCRETE)

    replay = CTGANEngine(epochs=1, seed=engine.seed_, **SMALL).fit(rows, SHOPPERS_DISCRETE)

    pd.testing.assert_frame_equal(replay.sample(100, seed=0), engine.sample(100, seed=0))


def test_fit_continuous_only(shoppers):
    rows = shoppers.drop(columns=SHOPPERS_DISCRETE).iloc[:500]

    sample = CTGANEngine(epochs=1, seed=1, **SMALL).fit(rows, []).sample(50, seed=1)

    assert list(sample.columns) == list(rows.columns)
    assert np.isfinite(sample.to_numpy()).all()


def test_fit_discrete_only(shoppers):
    rows = shoppers[SHOPPERS_DISCRETE].iloc[:500]

    engine = CTGANEngine(epochs=1, seed=1, **SMALL).fit(rows, SHOPPERS_DISCRETE)
    sample = engine.sample(50, condition=("Revenue", "True"), seed=1)

    assert list(sample.columns) == SHOPPERS_DISCRETE
    assert set(sample["Revenue"]) <= {"True", "False"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.assign(ExitRates=np.nan), r"'ExitRates' has 500 missing values\. Encode or drop them"),
        (lambda df: df.assign(ExitRates=np.inf), r"'ExitRates' has 500 infinite values"),
        (lambda df: df.assign(Region=1), r"'Region' must contain only strings, got dtype int64"),
        (lambda df: df.assign(ExitRates="x"), r"'ExitRates' must be numeric, got dtype object"),
        (lambda df: df.iloc[:0], r"Training data is empty \(0 rows, 18 columns\)"),
        (lambda df: df.to_numpy(), r"must be a pandas DataFrame, got ndarray"),
    ],
)
def test_fit_invalid_data(shoppers, change, message):
    with pytest.raises(InvalidDataError, match=message):
        CTGANEngine(epochs=1).fit(change(shoppers.iloc[:500]), SHOPPERS_DISCRETE)


def test_fit_unknown_discrete_column(shoppers):
    with pytest.raises(SchemaError, match=r"Discrete columns 'Colour' are not in the data\. Its columns are"):
        CTGANEngine(epochs=1).fit(shoppers.iloc[:500], [*SHOPPERS_DISCRETE, "Colour"])


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"batch_size": 505}, r"batch_size must be a multiple of pac \(10\), got 505"),
        ({"epochs": 0}, r"epochs must be a positive integer, got 0"),
        ({"generator_dim": (256, -1)}, r"generator_dim must be a sequence of positive layer sizes"),
        ({"generator_lr": 0.0}, r"generator_lr must be a finite number > 0.0, got 0.0"),
        ({"seed": -1}, r"seed must be a non-negative integer or None, got -1"),
    ],
)
def test_engine_invalid_hyperparameters(parameters, message):
    with pytest.raises(LongtailInputError, match=message):
        CTGANEngine(**parameters)


def _assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Compare discrete columns exactly and continuous ones up to float32 rounding.

    Matrix products round differently for different batch shapes, by about 1e-7 of the
    generator's output, which the inverse transform scales by up to the column's range.
    """
    pd.testing.assert_frame_equal(actual[SHOPPERS_DISCRETE], expected[SHOPPERS_DISCRETE])
    for name in expected.columns.difference(SHOPPERS_DISCRETE):
        tolerance = 1e-5 * float(expected[name].abs().max())
        np.testing.assert_allclose(actual[name], expected[name], rtol=0, atol=tolerance, err_msg=name)


def _losses_without_time(engine: CTGANEngine) -> list[dict]:
    return [{key: value for key, value in loss.items() if key != "seconds"} for loss in engine.losses_]
