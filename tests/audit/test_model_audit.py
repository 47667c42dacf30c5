"""Audits of a trained model, from the library function and from `longtail audit`."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from generator.audit import validate_report
from generator.audit.model_audit import load_training_data, run_model_audit, sample_minority
from generator.audit_cli import audit_command
from generator.errors import InvalidDataError, PlanError, SchemaError

AUDIT = {"max_rows": 3000, "iterations": 20}


@pytest.fixture(scope="session")
def shoppers_files(shoppers_splits, tmp_path_factory):
    """The training and holdout splits written as CSV files in the original format."""
    folder = tmp_path_factory.mktemp("shoppers")
    train, holdout, _ = shoppers_splits
    train.to_csv(folder / "train.csv", index=False)
    holdout.to_csv(folder / "holdout.csv", index=False)
    return folder / "train.csv", folder / "holdout.csv"


@pytest.fixture(scope="session")
def shoppers_registry(shoppers_files, shoppers_schema, tmp_path_factory):
    """A registry with one model of the online shoppers minority, trained for one epoch on the training file."""
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.registry import Registry

    train_path, _ = shoppers_files
    frame = load_table(train_path, shoppers_schema.source)
    model = train(frame, shoppers_schema, TrainingSettings(epochs=1, seed=3), source=str(train_path), model_id="shoppers-buy")
    registry = Registry(tmp_path_factory.mktemp("registry"))
    registry.register(model, "shoppers-buy")
    return registry


@pytest.fixture(scope="session")
def shoppers_model(shoppers_registry):
    return shoppers_registry.load("shoppers-buy")


@pytest.fixture(scope="session")
def model_audit(shoppers_model, shoppers_splits, tmp_path_factory):
    holdout = shoppers_splits[1]
    return run_model_audit(shoppers_model, holdout, None, None, 4, tmp_path_factory.mktemp("audit"), None, **AUDIT)


def test_run_model_audit_report(model_audit):
    report = model_audit.report

    validate_report(report)
    assert report["model"] == {
        "model_id": "shoppers-buy", "version": 1, "fingerprint": report["model"]["fingerprint"],
        "synthetic_source": "model", "seed": 4,
    }
    assert report["settings"]["seeds"] == [4, 5, 6]
    # Three times the 802 rows the utility test adds, one subset per seed.
    assert report["data"]["synthetic_rows"] == 3 * 802
    assert model_audit.json_path.is_file()
    assert model_audit.html_path.is_file()


def test_audit_cli_matches_library(model_audit, shoppers_registry, shoppers_files, tmp_path):
    result = CliRunner().invoke(_cli(), [
        "audit", "shoppers-buy", "--real", str(shoppers_files[1]), "--out", str(tmp_path), "--seed", "4",
        "--max-rows", "3000", "--iterations", "20", "--registry", str(shoppers_registry.root),
    ])

    assert result.exit_code == 0, result.output
    cli_report = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert {**cli_report, "created_at": None} == {**model_audit.report, "created_at": None}
    assert "On PR-AUC, longtail" in result.output


def test_audit_cli_synthetic_file(shoppers_registry, shoppers_files, standin_synthetic, tmp_path):
    synthetic_path = tmp_path / "synthetic.csv"
    standin_synthetic.to_csv(synthetic_path, index=False)

    result = CliRunner().invoke(_cli(), [
        "audit", "shoppers-buy", "--real", str(shoppers_files[1]), "--out", str(tmp_path / "report"), "--synthetic",
        str(synthetic_path), "--max-rows", "3000", "--iterations", "5", "--registry", str(shoppers_registry.root),
    ])

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "audit.json").read_text(encoding="utf-8"))
    assert report["model"]["synthetic_source"] == "file"
    assert report["data"]["synthetic_rows"] == len(standin_synthetic)
    assert report["privacy"]["exact_copy_share"] == 0.0


def test_audit_cli_synthetic_and_rows_together(shoppers_registry, shoppers_files, tmp_path):
    result = CliRunner().invoke(_cli(), [
        "audit", "shoppers-buy", "--real", str(shoppers_files[1]), "--out", str(tmp_path), "--synthetic",
        str(shoppers_files[1]), "-n", "900", "--registry", str(shoppers_registry.root),
    ])

    assert isinstance(result.exception, PlanError)
    assert "Pass either --synthetic or -n, not both" in str(result.exception)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("audit")(audit_command)
    app.command("noop")(lambda: None)  # a second command keeps `audit` a named subcommand, as in `longtail`
    return app


def test_run_model_audit_same_seed_same_numbers(model_audit, shoppers_model, shoppers_splits):
    again = run_model_audit(shoppers_model, shoppers_splits[1], None, None, 4, None, None, **AUDIT)

    assert again.json_path is None
    assert {**again.report, "created_at": None} == {**model_audit.report, "created_at": None}


def test_run_model_audit_holdout_schema_mismatch(shoppers_model, shoppers_splits):
    holdout = shoppers_splits[1].rename(columns={"Month": "month"})

    with pytest.raises(SchemaError, match=r"holdout columns do not match the model's schema: missing \['Month'\], unexpected \['month'\]"):
        run_model_audit(shoppers_model, holdout, None, None, 0, None, None, **AUDIT)


def test_run_model_audit_holdout_is_training_data(shoppers_model, shoppers_splits):
    with pytest.raises(InvalidDataError, match=r"holdout shares 3000 of its 3000 rows \(100\.00%\) with the training data"):
        run_model_audit(shoppers_model, shoppers_splits[0], None, None, 0, None, None, **AUDIT)


def test_run_model_audit_too_few_rows_requested(shoppers_model, shoppers_splits):
    with pytest.raises(PlanError, match=r"-n 100 synthetic rows are too few: the utility test needs 802"):
        run_model_audit(shoppers_model, shoppers_splits[1], None, 100, 0, None, None, **AUDIT)


def test_sample_minority_exact_counts(shoppers_model):
    rows = sample_minority(shoppers_model, {"TRUE": 40}, 50, seed=0)

    assert len(rows) == 50
    assert set(rows["Revenue"]) == {"TRUE"}


def test_load_training_data_changed_file(shoppers_model, shoppers_files, tmp_path):
    changed = tmp_path / "train.csv"
    changed.write_text(shoppers_files[0].read_text(encoding="utf-8").replace(",Feb,", ",Mar,", 1), encoding="utf-8")
    shoppers_model.manifest["data"]["source"] = str(changed)

    try:
        with pytest.raises(InvalidDataError, match=r"train\.csv of model 'shoppers-buy' changed since training"):
            load_training_data(shoppers_model)
    finally:
        shoppers_model.manifest["data"]["source"] = str(shoppers_files[0])


def test_run_model_audit_holdout_without_minority(shoppers_model, shoppers_splits):
    holdout = shoppers_splits[1]

    with pytest.raises(InvalidDataError, match=r"holdout has no minority rows: no value of 'Revenue' is in \['TRUE'\]"):
        run_model_audit(shoppers_model, holdout[holdout["Revenue"] == "FALSE"], None, None, 0, None, None, **AUDIT)
