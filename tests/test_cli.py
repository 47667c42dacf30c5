"""The `longtail` command line, run as a user runs it: in a subprocess, on the real datasets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from generator.loading import load_table
from generator.schema import Schema
from tests.conftest import ADULT, BANK, EXAMPLES, SHOPPERS, TAOBAO

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def run_cli(*args: str, registry: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "generator.cli", *args]
    if args[0] != "schema":
        command += ["--registry", str(registry)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)


def registered_versions(registry: Path) -> list[Path]:
    if not registry.exists():
        return []
    return [path for path in registry.glob("*/*") if path.is_dir()]


@pytest.fixture(scope="module")
def trained_registry(tmp_path_factory):
    registry = tmp_path_factory.mktemp("registry")
    result = run_cli("train", str(TAOBAO), "--schema", str(EXAMPLES / "taobao.yaml"), "--model-id", "taobao-buy",
                     "--epochs", "2", "--seed", "4", registry=registry)
    assert result.returncode == 0, result.stderr
    return registry


def test_cli_sample_buy_rows(trained_registry, tmp_path):
    out = tmp_path / "buy.csv"
    result = run_cli("sample", "taobao-buy", "-n", "5000", "--condition", "behavior_type=buy", "--out", str(out), registry=trained_registry)
    assert result.returncode == 0, result.stderr

    rows = pd.read_csv(out, header=None, names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"])
    log = pd.read_csv(TAOBAO, header=None, names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"])
    assert len(rows) == 5000
    assert (rows["behavior_type"] == "buy").all()
    assert rows["item_id"].isin(set(log["item_id"])).all()
    assert rows["category_id"].isin(set(log["category_id"])).all()
    assert rows["timestamp"].dtype == "int64"
    assert rows["timestamp"].between(log["timestamp"].min(), log["timestamp"].max()).all()

    sidecar = json.loads((tmp_path / "buy.csv.fidelity.json").read_text())
    assert sidecar["rows"] == 5000
    assert sidecar["conditions"] == {"behavior_type": "buy"}
    assert 0 < sidecar["match_rate"] <= 1
    assert 0 <= sidecar["fidelity"]["scores"]["overall"] <= 1


def test_cli_augment_parquet(trained_registry, tmp_path):
    out = tmp_path / "augment.parquet"
    result = run_cli("augment", "taobao-buy", "--sampling-strategy", "0.25", "--out", str(out), registry=trained_registry)
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out)
    sidecar = json.loads((tmp_path / "augment.parquet.fidelity.json").read_text())
    assert sidecar["plan"]["n_samples"] == {"buy": 17_174}
    assert len(rows) == 17_174
    assert list(rows.columns) == ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]


def test_cli_models_list_and_show(trained_registry):
    listed = json.loads(run_cli("models", "list", registry=trained_registry).stdout)
    assert [entry["model_id"] for entry in listed] == ["taobao-buy"]
    assert listed[0]["versions"] == [1]
    manifest = json.loads(run_cli("models", "show", "taobao-buy", registry=trained_registry).stdout)
    assert manifest["seed"] == 4
    assert manifest["minority"]["values"] == ["buy"]


def test_cli_schema_infer_writes_yaml(tmp_path):
    out = tmp_path / "bank.yaml"
    result = run_cli("schema", "infer", str(BANK), "--out", str(out), registry=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "y:\n    role: label" in out.read_text()


@pytest.mark.parametrize(
    "dataset, schema, label, value",
    [
        (TAOBAO, "taobao.yaml", "behavior_type", "buy"),
        (SHOPPERS, "online_shoppers.yaml", "Revenue", "TRUE"),
        (ADULT, "adult.yaml", "income", ">50K"),
        (BANK, "bank_marketing.yaml", "y", "yes"),
    ],
)
def test_cli_trains_and_samples_every_dataset(tmp_path, dataset, schema, label, value):
    registry = tmp_path / "models"
    trained = run_cli("train", str(dataset), "--schema", str(EXAMPLES / schema), "--model-id", "m", "--epochs", "1", registry=registry)
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "rows.csv"
    sampled = run_cli("sample", "m", "-n", "300", "--condition", f"{label}={value}", "--out", str(out), registry=registry)
    assert sampled.returncode == 0, sampled.stderr
    # The output is written in the input's layout, so the input's schema reads it back.
    rows = load_table(out, Schema.from_file(EXAMPLES / schema).source)
    assert len(rows) == 300
    assert (rows[label] == value).all()


# -- bad input: exit code 2, a message that names the problem, and nothing registered ----------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def small_schema(tmp_path: Path, label: str = "kind", extra: str = "") -> Path:
    return write(tmp_path, "schema.yaml", f"columns:\n  amount: {{role: numerical}}\n  {label}: {{role: label}}\n{extra}")


BAD_TRAINING_INPUTS = {
    "missing file": (lambda tmp: (tmp / "absent.csv", EXAMPLES / "taobao.yaml"), r"Data file not found: .*absent\.csv"),
    "empty file": (lambda tmp: (write(tmp, "empty.csv", ""), EXAMPLES / "taobao.yaml"), r"empty\.csv is empty"),
    "header only": (lambda tmp: (write(tmp, "header.csv", "amount,kind\n"), small_schema(tmp)), r"has a header but no rows"),
    "label column absent": (
        lambda tmp: (write(tmp, "d.csv", "amount,other\n1,a\n2,b\n"), small_schema(tmp)),
        r"Columns \['kind'\] of the schema are not in the data",
    ),
    "minority value absent": (
        lambda tmp: (TAOBAO, write(tmp, "s.yaml", (EXAMPLES / "taobao.yaml").read_text().replace("values: [buy]", "values: [refund]"))),
        r"Minority value\(s\) \['refund'\] not found in label column 'behavior_type'",
    ),
    "single class": (
        lambda tmp: (write(tmp, "d.csv", "amount,kind\n" + "".join(f"{i},a\n" for i in range(50))), small_schema(tmp)),
        r"Label column 'kind' has a single class \['a'\]",
    ),
    "all-null column": (
        lambda tmp: (write(tmp, "d.csv", "amount,note,kind\n" + "".join(f"{i},?,{'ab'[i % 2]}\n" for i in range(50))),
                     write(tmp, "s.yaml", "columns:\n  amount: {role: numerical}\n  note: {role: categorical}\n  kind: {role: label}\n")),
        r"Column 'note' of the data is empty: all 50 values are missing",
    ),
    "text in numerical column": (
        lambda tmp: (write(tmp, "d.csv", "amount,kind\n1,a\n2,b\nabc,a\n"), small_schema(tmp)),
        r"Column 'amount' of the data is numerical but row 2 contains 'abc'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TRAINING_INPUTS))
def test_cli_train_bad_input(tmp_path, case):
    make, message = BAD_TRAINING_INPUTS[case]
    data, schema = make(tmp_path)
    registry = tmp_path / "models"
    result = run_cli("train", str(data), "--schema", str(schema), "--model-id", "bad", "--epochs", "1", registry=registry)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(message, " ".join(result.stderr.split())), result.stderr
    assert registered_versions(registry) == []


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--condition", "colour=red"], r"Unknown condition column 'colour'"),
        (["--condition", "item_tier=gold"], r"Unknown value 'gold' for condition column 'item_tier'"),
        (["--condition", "behavior_type"], r"Invalid condition 'behavior_type': write COLUMN=VALUE"),
        (["-n", "0"], r"The number of rows must be at least 1, got 0"),
        (["-n", "2000001"], r"Requested 2000001 rows, above the limit of 1000000 rows per request \(max_rows\)"),
    ],
)
def test_cli_sample_bad_input(trained_registry, tmp_path, arguments, message):
    out = tmp_path / "rows.csv"
    base = ["sample", "taobao-buy", "--out", str(out)] + (["-n", "10"] if "-n" not in arguments else [])
    result = run_cli(*base, *arguments, registry=trained_registry)
    assert result.returncode == 2, result.stderr
    assert re.search(message, " ".join(result.stderr.split())), result.stderr
    assert not out.exists()


def test_cli_sample_unknown_model(trained_registry, tmp_path):
    result = run_cli("sample", "nope", "-n", "5", "--out", str(tmp_path / "r.csv"), registry=trained_registry)
    assert result.returncode == 2
    assert "Model 'nope' not found in the registry" in result.stderr


def test_cli_sample_tampered_artifact(trained_registry, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_registry, copy)
    weights = next((copy / "taobao-buy" / "1" / "engine").glob("*.pt"))
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))

    result = run_cli("sample", "taobao-buy", "-n", "5", "--out", str(tmp_path / "r.csv"), registry=copy)
    assert result.returncode == 2
    assert "is corrupted or was modified (SHA-256 mismatch)" in " ".join(result.stderr.split())
    assert not (tmp_path / "r.csv").exists()


def test_cli_sample_corrupted_manifest_list(trained_registry, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_registry, copy)
    (copy / "taobao-buy" / "1" / "checksums.json").write_text("{not json")
    result = run_cli("sample", "taobao-buy", "-n", "5", "--out", str(tmp_path / "r.csv"), registry=copy)
    assert result.returncode == 2
    assert "checksum list of model 'taobao-buy' version 1 is missing or corrupted" in " ".join(result.stderr.split())


def test_cli_sample_out_is_folder(trained_registry, tmp_path):
    result = run_cli("sample", "taobao-buy", "-n", "5", "--out", str(tmp_path), registry=trained_registry)
    assert result.returncode == 2
    assert f"Output path {tmp_path} is a folder" in " ".join(result.stderr.split())


def test_cli_audit_out_is_file(trained_registry, tmp_path):
    existing = tmp_path / "afile"
    existing.write_text("x")
    result = run_cli("audit", "taobao-buy", "--real", str(TAOBAO), "--out", str(existing), registry=trained_registry)
    assert result.returncode == 2
    assert f"Output folder {existing} is an existing file" in " ".join(result.stderr.split())


def test_cli_augment_warns_when_nothing_generated(trained_registry, tmp_path):
    out = tmp_path / "a.csv"
    result = run_cli("augment", "taobao-buy", "--sampling-strategy", "not minority", "--out", str(out), registry=trained_registry)
    assert result.returncode == 0, result.stderr
    assert "warning: the plan generates no rows" in " ".join(result.stderr.split())
