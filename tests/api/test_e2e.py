"""End to end against a real uvicorn server on 127.0.0.1: train on Taobao, augment, cancel, restart."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest

from api.client import Batch, JobFailedError, LongtailAPIError, LongtailClient
from api.jobs import JobStore
from api.remote import RemoteOverSampler
from tests.api.conftest import (
    READ_KEY,
    TAOBAO,
    TAOBAO_RELATIVE,
    WRITE_KEY,
    auth,
    start_server,
    taobao_schema_dict,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TAOBAO_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
MODEL_ID = "taobao-buy"


@pytest.fixture(scope="module")
def taobao() -> pd.DataFrame:
    return pd.read_csv(TAOBAO, header=None, names=TAOBAO_COLUMNS, dtype=str)


@pytest.fixture(scope="module")
def client(server):
    with LongtailClient(server.base_url, WRITE_KEY, timeout=120) as longtail:
        yield longtail


@pytest.fixture(scope="module")
def trained(client):
    """Train `taobao-buy` through the API: 2 epochs on the `buy` rows, seed 7."""
    job = client.create_training_job(
        TAOBAO_RELATIVE, schema=taobao_schema_dict(), minority_values=["buy"], epochs=2, seed=7, model_id=MODEL_ID
    )
    assert job.status in ("queued", "running")
    return client.wait_for_job(job.job_id, timeout=300, poll_seconds=0.5)


def wait_for(predicate, timeout: float, message: str, poll_seconds: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_seconds)
    raise AssertionError(message)


def test_training_job_reports_progress_and_model(trained, client):
    model = client.get_model(MODEL_ID)

    assert trained.status == "succeeded"
    assert trained.result == {"model_id": MODEL_ID, "version": 1}
    assert trained.progress.epoch == 2
    assert trained.progress.epochs == 2
    assert [loss.epoch for loss in trained.progress.losses] == [1, 2]
    assert trained.error is None
    assert model.versions == [1]
    assert model.manifest["minority"]["values"] == ["buy"]


@pytest.mark.parametrize("row_format", ["json", "csv", "parquet", "arrow"])
def test_augmentation_matches_plan_in_every_format(trained, client, taobao, row_format):
    batch = client.augment(MODEL_ID, 0.25, seed=3, format=row_format)

    real_items = set(taobao["item_id"])
    real_categories = set(taobao["category_id"])
    timestamps = taobao["timestamp"].astype("int64")
    plan = batch.plan
    rows = batch.rows
    assert plan["n_samples"] == {"buy": plan["target_counts"]["buy"] - plan["class_counts"]["buy"]}
    assert plan["class_counts"] == taobao["behavior_type"].value_counts().to_dict()
    assert len(rows) == sum(plan["n_samples"].values())
    assert rows["behavior_type"].value_counts().to_dict() == plan["n_samples"]
    assert list(rows.columns) == TAOBAO_COLUMNS
    assert rows.notna().all().all()
    assert set(rows["item_id"].astype(str)) <= real_items
    assert set(rows["category_id"].astype(str)) <= real_categories
    assert rows["timestamp"].astype("int64").between(timestamps.min(), timestamps.max()).all()
    assert 0 <= batch.fidelity["scores"]["overall"] <= 1
    assert set(batch.fidelity) >= {"column_shapes", "column_pair_trends", "privacy", "scores"}


def test_augmentation_headers_carry_fidelity_for_binary_formats(trained, server):
    response = httpx.post(
        f"{server.base_url}/v1/models/{MODEL_ID}/augmentations",
        json={"sampling_strategy": 0.25, "seed": 3},
        headers={**auth(READ_KEY), "Accept": "application/vnd.apache.parquet"},
        timeout=120,
    )
    companion = httpx.get(
        f"{server.base_url}/v1/batches/{response.headers['x-longtail-batch-id']}", headers=auth(READ_KEY)
    ).json()

    assert response.status_code == 200
    assert response.headers["x-longtail-fidelity"]
    assert companion["plan"]["n_samples"]["buy"] == int(response.headers["x-longtail-row-count"])
    assert companion["fidelity"]["scores"]["overall"] == pytest.approx(float(response.headers["x-longtail-fidelity-score"]))


def test_samples_concurrent_while_training_then_cancel(trained, client, server):
    job = client.create_training_job(
        TAOBAO_RELATIVE, schema=taobao_schema_dict(), minority_values=["buy"], epochs=500, seed=1,
        model_id="taobao-cancelled",
    )
    wait_for(lambda: client.get_job(job.job_id).progress.epoch >= 1, 120, "training did not finish an epoch")

    def sample(seed: int) -> Batch:
        with LongtailClient(server.base_url, READ_KEY, timeout=120) as reader:
            return reader.sample(MODEL_ID, 300, conditions={"behavior_type": "buy"}, seed=seed)

    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(sample, range(8)))
    running = client.get_job(job.job_id)

    epoch_at_cancel = client.cancel_job(job.job_id).progress.epoch
    finished = wait_for(
        lambda: (current := client.get_job(job.job_id)).status != "running" and current, 120, "cancel was not applied"
    )

    assert [len(batch.rows) for batch in batches] == [300] * 8
    assert all(set(batch.rows["behavior_type"]) == {"buy"} for batch in batches)
    assert running.status == "running"
    assert finished.status == "cancelled"
    assert finished.progress.epoch <= epoch_at_cancel + 1
    assert finished.error.type == "TrainingCancelledError"
    assert finished.result is None
    with pytest.raises(LongtailAPIError, match="404 ModelNotFoundError"):
        client.get_model("taobao-cancelled")
    assert not (server.registry_dir / "taobao-cancelled").exists() or not any(
        path.name.isdigit() for path in (server.registry_dir / "taobao-cancelled").iterdir()
    )


def test_training_job_with_unknown_minority_fails(trained, client):
    job = client.create_training_job(
        TAOBAO_RELATIVE, schema=taobao_schema_dict(), minority_values=["refund"], epochs=1, model_id="taobao-refund"
    )

    with pytest.raises(JobFailedError, match="ended as failed") as caught:
        client.wait_for_job(job.job_id, timeout=120, poll_seconds=0.5)

    failed = caught.value.job
    assert failed.error.type == "InvalidDataError"
    assert "['refund'] not found in label column 'behavior_type'" in failed.error.message
    assert failed.result is None
    with pytest.raises(LongtailAPIError, match="404 ModelNotFoundError"):
        client.get_model("taobao-refund")


def test_training_job_without_schema_infers_one(trained, client):
    job = client.create_training_job(
        "online_shoppers/online_shoppers_intention.csv", minority_values=["TRUE"], epochs=1, seed=1
    )

    finished = client.wait_for_job(job.job_id, timeout=300, poll_seconds=0.5)
    model = client.get_model("online_shoppers_intention")

    assert finished.result == {"model_id": "online_shoppers_intention", "version": 1}
    assert model.summary["label"] == "Revenue"
    assert model.summary["minority"] == ["TRUE"]


def test_error_responses_are_4xx_with_message(trained, server):
    base = server.base_url
    no_key = httpx.get(f"{base}/v1/models")
    read_training = httpx.post(f"{base}/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}},
                               headers=auth(READ_KEY))
    over_limit = httpx.post(f"{base}/v1/models/{MODEL_ID}/samples", json={"count": 100_001}, headers=auth(READ_KEY))
    unknown_model = httpx.post(f"{base}/v1/models/nope/samples", json={"count": 5}, headers=auth(READ_KEY))
    malformed = httpx.post(f"{base}/v1/models/{MODEL_ID}/samples", content=b"{", headers={
        **auth(READ_KEY), "Content-Type": "application/json"})
    unknown_column = httpx.post(f"{base}/v1/models/{MODEL_ID}/samples", json={"count": 5, "conditions": {"price": 1}},
                                headers=auth(READ_KEY))
    unknown_value = httpx.post(f"{base}/v1/models/{MODEL_ID}/samples",
                               json={"count": 5, "conditions": {"behavior_type": "refund"}}, headers=auth(READ_KEY))
    bad_accept = httpx.post(f"{base}/v1/models/{MODEL_ID}/samples", json={"count": 5},
                            headers={**auth(READ_KEY), "Accept": "application/xml"})

    assert no_key.status_code == 401
    assert read_training.status_code == 403
    assert over_limit.status_code == 413
    assert over_limit.json()["error"]["limit"]["name"] == "max_rows_per_request"
    assert "max_rows_per_request=100000" in over_limit.json()["error"]["message"]
    assert unknown_model.status_code == 404
    for response in (malformed, unknown_column, unknown_value):
        assert response.status_code == 422
        assert response.json()["error"]["message"]
    assert bad_accept.status_code == 406
    assert "application/xml" in bad_accept.json()["error"]["message"]


def test_remote_oversampler_matches_local(trained, server, taobao):
    from generator.oversampler import LongtailOverSampler
    from generator.registry import Registry

    subset = taobao.iloc[:3000]
    X = subset.drop(columns="behavior_type")
    y = subset["behavior_type"].to_numpy()
    strategy = {"buy": int((y == "buy").sum()) + 150}
    local = LongtailOverSampler(sampling_strategy=strategy, model=Registry(server.registry_dir).load(MODEL_ID), random_state=4)
    remote = RemoteOverSampler(base_url=server.base_url, api_key=READ_KEY, model_id=MODEL_ID,
                               sampling_strategy=strategy, random_state=4)

    X_local, y_local = local.fit_resample(X, y)
    X_remote, y_remote = remote.fit_resample(X, y)

    assert len(X_remote) == len(X) + 150
    assert remote.plan_["n_samples"] == {"buy": 150}
    assert 0 <= remote.fidelity_["scores"]["overall"] <= 1
    pd.testing.assert_frame_equal(X_remote, X_local)
    np.testing.assert_array_equal(y_remote, y_local)


def test_metrics_report_rows_and_jobs(trained, server):
    text = httpx.get(f"{server.base_url}/metrics", headers=auth(READ_KEY)).text

    assert 'longtail_jobs{status="succeeded"}' in text
    assert 'longtail_rows_generated_total{kind="augmentations",model_id="taobao-buy"}' in text
    assert 'route="/v1/models/{model_id}/augmentations"' in text


def test_upload_training_job_trains_on_file(trained, client, server, tmp_path, taobao):
    upload = tmp_path / "taobao_head.csv"
    taobao.iloc[:20_000].to_csv(upload, header=False, index=False)

    job = client.upload_training_job(upload, schema=taobao_schema_dict(), epochs=1, seed=2, model_id="uploaded")
    finished = client.wait_for_job(job.job_id, timeout=300, poll_seconds=0.5)

    assert finished.result == {"model_id": "uploaded", "version": 1}
    assert client.get_model("uploaded").manifest["settings"]["epochs"] == 1
    assert list((server.registry_dir / "uploads").glob("*")) == []


def process_exited(pid: int) -> bool:
    """Return True when no process has that pid, or it is a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return True


def test_restart_reports_running_job_as_interrupted(tmp_path):
    registry = tmp_path / "models"
    first = start_server(registry, tmp_path / "first.log")
    try:
        with LongtailClient(first.base_url, WRITE_KEY) as longtail:
            job = longtail.create_training_job(
                TAOBAO_RELATIVE, schema=taobao_schema_dict(), epochs=500, seed=1, model_id="killed"
            )
            wait_for(lambda: longtail.get_job(job.job_id).progress.epoch >= 1, 120, "training did not start")
        first.kill()
    finally:
        first.stop()
    job_pid = JobStore(registry / "jobs.sqlite3").get(job.job_id)["pid"]

    second = start_server(registry, tmp_path / "second.log")
    try:
        with LongtailClient(second.base_url, READ_KEY) as longtail:
            reported = longtail.get_job(job.job_id)
            with pytest.raises(JobFailedError, match="ended as interrupted"):
                longtail.wait_for_job(job.job_id, timeout=5)
            wait_for(lambda: process_exited(job_pid), 60, f"orphaned training process {job_pid} kept running")
            after_exit = longtail.get_job(job.job_id)
    finally:
        second.stop()

    assert reported.status == "interrupted"
    assert reported.error.type == "JobInterrupted"
    assert reported.error.message.endswith("; start a new training job")
    assert after_exit.status == "interrupted"
    assert not (registry / "killed").exists() or not any(path.name.isdigit() for path in (registry / "killed").iterdir())
