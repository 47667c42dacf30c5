"""Audit jobs against a real uvicorn server on 127.0.0.1, compared with `longtail audit` on the same model."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from api.client import LongtailAPIError, LongtailClient
from api.jobs import INTERRUPTED, JobStore
from api.schemas import JobPublic
from api.worker import RESTART_MESSAGE, JobRunner
from tests.api.conftest import READ_KEY, ROOT, WRITE_KEY, auth, start_server
from tests.conftest import EXAMPLES, SHOPPERS

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.real_data]

MODEL_ID = "shoppers-buy"
UPLOADED_MODEL_ID = "shoppers-uploaded"
TRAIN_ROWS = 3000
HOLDOUT_ROWS = 2000
# Small enough for a test: the audit of a 1-epoch model with these settings took about 10 s on a 2-core machine.
AUDIT = {"seed": 4, "max_rows": 3000, "iterations": 20}
AUDIT_STEPS = 21  # 3 checks and sections, then per seed 1 detection and 5 utility fits, for 3 seeds


def final_job(client: LongtailClient, job_id: str, timeout: float = 180) -> JobPublic:
    """Poll a job until it is final and return it, whatever its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get_job(job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")


@pytest.fixture(scope="module")
def audit_data(tmp_path_factory):
    """A data directory with disjoint training and holdout splits of online shoppers, and three bad holdouts."""
    from generator.loading import load_table
    from generator.schema import Schema

    folder = tmp_path_factory.mktemp("data")
    schema = Schema.from_file(EXAMPLES / "online_shoppers.yaml")
    # Duplicates are dropped first, so that no row falls in both splits.
    raw = load_table(SHOPPERS, schema.source).drop_duplicates()
    shuffled = raw.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train = shuffled.iloc[:TRAIN_ROWS]
    holdout = shuffled.iloc[TRAIN_ROWS : TRAIN_ROWS + HOLDOUT_ROWS]

    train.to_csv(folder / "train.csv", index=False)
    holdout.to_csv(folder / "holdout.csv", index=False)
    holdout.rename(columns={"Month": "month"}).to_csv(folder / "holdout_renamed.csv", index=False)
    holdout[holdout["Revenue"] == "FALSE"].to_csv(folder / "holdout_no_minority.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def audit_registry(audit_data, tmp_path_factory):
    """A registry with `shoppers-buy` (1 epoch, seed 3, on train.csv) and the same model recorded as uploaded."""
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.registry import Registry
    from generator.schema import Schema

    root = tmp_path_factory.mktemp("models")
    schema = Schema.from_file(EXAMPLES / "online_shoppers.yaml")
    frame = load_table(audit_data / "train.csv", schema.source)
    model = train(frame, schema, TrainingSettings(epochs=1, seed=3), source=str(audit_data / "train.csv"), model_id=MODEL_ID)
    registry = Registry(root)
    registry.register(model, MODEL_ID)

    model.manifest["data"]["source"] = "upload:train.csv"
    registry.register(model, UPLOADED_MODEL_ID)
    return root


@pytest.fixture(scope="module")
def audit_server(audit_data, audit_registry, tmp_path_factory):
    running = start_server(
        audit_registry, tmp_path_factory.mktemp("log") / "server.log", data_dir=str(audit_data), max_concurrent_jobs="2"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(audit_server):
    with LongtailClient(audit_server.base_url, WRITE_KEY, timeout=60) as longtail:
        yield longtail


@pytest.fixture(scope="module")
def audited(client, audit_data, audit_registry, tmp_path_factory):
    """The same audit from the API and from `longtail audit` in a subprocess, run side by side."""
    out = tmp_path_factory.mktemp("cli")
    command = [
        sys.executable, "-m", "generator.cli", "audit", MODEL_ID, "--real", str(audit_data / "holdout.csv"),
        "--out", str(out), "--seed", "4", "--max-rows", "3000", "--iterations", "20", "--registry", str(audit_registry),
    ]
    cli = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    created = client.create_audit_job(MODEL_ID, "holdout.csv", **AUDIT)
    job = client.wait_for_job(created.job_id, timeout=240, poll_seconds=0.5)
    output, _ = cli.communicate(timeout=240)

    assert cli.returncode == 0, output.decode(errors="replace")
    return created, job, out


def test_audit_job_matches_cli_report(audited, client):
    created, job, cli_out = audited
    api_report = client.get_audit_report(job.job_id)
    cli_report = json.loads((cli_out / "audit.json").read_text(encoding="utf-8"))

    assert created.kind == "audit"
    assert created.status in ("queued", "running")
    assert api_report["model"] == {
        "model_id": MODEL_ID, "version": 1, "fingerprint": cli_report["model"]["fingerprint"],
        "synthetic_source": "model", "seed": 4,
    }
    assert api_report["settings"]["seeds"] == [4, 5, 6]
    assert {**api_report, "created_at": None} == {**cli_report, "created_at": None}


def test_audit_job_progress_and_result(audited, client):
    _, job, _ = audited
    report = client.get_audit_report(job.job_id)

    assert job.status == "succeeded"
    assert job.progress.stage == "utility"
    assert job.progress.completed == AUDIT_STEPS
    assert job.progress.total == AUDIT_STEPS
    assert job.result == {
        "model_id": MODEL_ID, "version": 1, "report": f"/v1/audits/{job.job_id}",
        "headline": report["summary"]["headline"],
    }
    assert job.error is None


def test_audit_report_html_served(audited, client, audit_server):
    _, job, cli_out = audited
    response = httpx.get(
        f"{audit_server.base_url}/v1/audits/{job.job_id}", headers={**auth(READ_KEY), "Accept": "text/html"}
    )
    api_created = client.get_audit_report(job.job_id)["created_at"]
    cli_html = (cli_out / "audit.html").read_text(encoding="utf-8")
    cli_created = json.loads((cli_out / "audit.json").read_text(encoding="utf-8"))["created_at"]

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.replace(api_created, "") == cli_html.replace(cli_created, "")
    assert (audit_server.registry_dir / ".audits" / job.job_id / "audit.html").is_file()


def test_audit_report_unsupported_accept(audited, audit_server):
    _, job, _ = audited
    response = httpx.get(
        f"{audit_server.base_url}/v1/audits/{job.job_id}", headers={**auth(READ_KEY), "Accept": "text/csv"}
    )

    assert response.status_code == 406
    assert response.json()["error"]["message"] == (
        "unsupported Accept header 'text/csv': audit reports are available as application/json and text/html"
    )


def test_audit_read_key_scope(audited, audit_server):
    _, job, _ = audited
    base = audit_server.base_url
    start = httpx.post(f"{base}/v1/models/{MODEL_ID}/audits", json={"holdout": {"path": "holdout.csv"}},
                       headers=auth(READ_KEY))
    report = httpx.get(f"{base}/v1/audits/{job.job_id}", headers=auth(READ_KEY))
    progress = httpx.get(f"{base}/v1/jobs/{job.job_id}", headers=auth(READ_KEY))
    cancel = httpx.delete(f"{base}/v1/jobs/{job.job_id}", headers=auth(READ_KEY))

    assert start.status_code == 403
    assert start.json()["error"]["message"].startswith(
        "API key 'test-read' has scope 'read'; starting an audit job needs a 'write' key"
    )
    assert report.status_code == 200
    assert report.json()["model"]["model_id"] == MODEL_ID
    assert progress.status_code == 200
    assert progress.json()["progress"]["completed"] == AUDIT_STEPS
    assert cancel.status_code == 403


@pytest.mark.parametrize(
    ("holdout", "message"),
    [
        ("train.csv", r"The holdout shares 3000 of its 3000 rows \(100\.00%\) with the training data"),
        ("holdout_no_minority.csv", r"The holdout has no minority rows: no value of 'Revenue' is in \['TRUE'\]"),
    ],
)
def test_audit_job_bad_holdout_fails(client, holdout, message):
    job = client.create_audit_job(MODEL_ID, holdout, **AUDIT)

    finished = final_job(client, job.job_id)

    assert finished.status == "failed"
    assert finished.error.type == "InvalidDataError"
    assert re.match(message, finished.error.message)
    with pytest.raises(LongtailAPIError, match=f"404 NotFound: audit job {job.job_id} ended as failed, so it has no report: "):
        client.get_audit_report(job.job_id)


def test_audit_holdout_columns_mismatch(client, audit_server):
    with pytest.raises(LongtailAPIError) as caught:
        client.create_audit_job(MODEL_ID, "holdout_renamed.csv", **AUDIT)

    assert caught.value.status_code == 422
    assert caught.value.error_type == "SchemaError"
    assert caught.value.message.startswith(
        "The holdout columns do not match the model's schema: missing ['Month'], unexpected ['month']."
    )


def test_audit_upload_columns_mismatch(client, audit_server, audit_data):
    with pytest.raises(LongtailAPIError, match=r"422 SchemaError: The holdout columns do not match"):
        client.create_audit_job(MODEL_ID, holdout_file=audit_data / "holdout_renamed.csv", **AUDIT)

    assert list((audit_server.registry_dir / "uploads").glob("*")) == []


def test_audit_upload_without_minority_fails(client, audit_server, audit_data):
    job = client.create_audit_job(MODEL_ID, holdout_file=audit_data / "holdout_no_minority.csv", **AUDIT)

    finished = final_job(client, job.job_id)

    uploads = audit_server.registry_dir / "uploads"
    # The job process deletes the upload just after it records the failure.
    deadline = time.monotonic() + 10
    while list(uploads.glob("*")) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert finished.status == "failed"
    assert finished.error.message.startswith("The holdout has no minority rows: no value of 'Revenue' is in ['TRUE']")
    assert list(uploads.glob("*")) == []


def test_audit_uploaded_model_needs_training_data(client):
    with pytest.raises(LongtailAPIError) as caught:
        client.create_audit_job(UPLOADED_MODEL_ID, "holdout.csv", **AUDIT)

    assert caught.value.status_code == 422
    assert caught.value.message == (
        f"model '{UPLOADED_MODEL_ID}' version 1 was trained on an uploaded file, which the service does not keep; "
        "pass the same data as 'training_dataset.path' under the data directory"
    )


def test_audit_job_wrong_training_dataset_fails(client):
    job = client.create_audit_job(UPLOADED_MODEL_ID, "holdout_no_minority.csv", training_dataset="holdout.csv", **AUDIT)

    finished = final_job(client, job.job_id)

    assert finished.status == "failed"
    assert finished.error.type == "InvalidDataError"
    assert finished.error.message.startswith(
        f"the training data 'holdout.csv' of model '{UPLOADED_MODEL_ID}' version 1 changed since training: "
        "its fingerprint is sha256:"
    )


def test_audit_request_errors(client, audit_server):
    base = audit_server.base_url
    both = httpx.post(f"{base}/v1/models/{MODEL_ID}/audits", headers=auth(),
                      json={"holdout": {"path": "holdout.csv"}, "synthetic": {"path": "holdout.csv"}, "n": 900})
    too_many = httpx.post(f"{base}/v1/models/{MODEL_ID}/audits", headers=auth(),
                          json={"holdout": {"path": "holdout.csv"}, "n": 100_001})
    outside = httpx.post(f"{base}/v1/models/{MODEL_ID}/audits", headers=auth(), json={"holdout": {"path": "../x.csv"}})
    no_holdout = httpx.post(f"{base}/v1/models/{MODEL_ID}/audits", headers=auth(), json={"seed": 1})
    bad_strategy = httpx.post(f"{base}/v1/models/{MODEL_ID}/audits", headers=auth(),
                              json={"holdout": {"path": "holdout.csv"}, "sampling_strategy": 1.5})

    assert both.status_code == 422
    assert both.json()["error"]["message"] == (
        "give either 'synthetic' or 'n', not both: 'n' sets how many rows to sample from the model"
    )
    assert too_many.status_code == 413
    assert too_many.json()["error"]["limit"] == {"name": "max_rows_per_request", "limit": 100_000, "requested": 100_001}
    assert outside.status_code == 422
    assert "'..' is not allowed" in outside.json()["error"]["message"]
    assert no_holdout.status_code == 422
    assert no_holdout.json()["error"]["message"].startswith("audit request needs 'holdout.path'")
    assert bad_strategy.status_code == 422
    assert bad_strategy.json()["error"]["message"].startswith("invalid audit request: sampling_strategy:")


def test_audit_unknown_model_404(client):
    with pytest.raises(LongtailAPIError, match=r"404 ModelNotFoundError"):
        client.create_audit_job("nope", "holdout.csv")
    with pytest.raises(LongtailAPIError, match=r"404 ModelNotFoundError: .*has no version 9"):
        client.create_audit_job(MODEL_ID, "holdout.csv", version=9)


def test_audit_report_unknown_job_404(client, audit_server):
    store = JobStore(audit_server.registry_dir / "jobs.sqlite3")
    training = store.create("training", {"epochs": 1}, max_active=10)
    store.finish(training["id"], "failed", error_type="InvalidDataError", error_message="test row")

    with pytest.raises(LongtailAPIError, match=r"404 NotFound: audit job 'nope' not found"):
        client.get_audit_report("nope")
    with pytest.raises(LongtailAPIError, match=f"404 NotFound: job {training['id']} is a training job, not an audit"):
        client.get_audit_report(training["id"])


def test_audit_job_cancel_while_running(client, audit_server):
    job = client.create_audit_job(MODEL_ID, "holdout.csv", **AUDIT)
    with pytest.raises(LongtailAPIError, match=f"404 NotFound: audit job {job.job_id} is (queued|running); "):
        client.get_audit_report(job.job_id)
    deadline = time.monotonic() + 120
    while (client.get_job(job.job_id).progress.completed or 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)

    client.cancel_job(job.job_id)
    finished = final_job(client, job.job_id)

    assert finished.status == "cancelled"
    assert finished.error.type == "JobCancelled"
    assert re.fullmatch(
        rf"cancelled after audit step \d+ of {AUDIT_STEPS} \(\w+\); no report was written", finished.error.message
    )
    assert finished.progress.completed < AUDIT_STEPS
    assert finished.result is None
    with pytest.raises(LongtailAPIError, match=f"404 NotFound: audit job {job.job_id} ended as cancelled"):
        client.get_audit_report(job.job_id)
    assert not (audit_server.registry_dir / ".audits" / job.job_id).exists()


def test_job_runner_interrupt_message_names_kind(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    training = store.create("training", {}, max_active=5)
    audit = store.create("audit", {}, max_active=5)
    store.mark_running(audit["id"], pid=99999)

    runner = JobRunner(store)
    runner.start()
    runner.stop()

    assert store.get(training["id"])["error_message"] == RESTART_MESSAGE
    assert store.get(audit["id"])["status"] == INTERRUPTED
    assert store.get(audit["id"])["error_message"] == (
        "the service restarted while this job was queued or running; start a new audit job"
    )


def test_job_store_migrates_old_file(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, "
            "started_at REAL, finished_at REAL, request TEXT NOT NULL, epoch INTEGER NOT NULL DEFAULT 0, epochs INTEGER, "
            "generator_loss REAL, discriminator_loss REAL, eta_seconds REAL, losses TEXT NOT NULL DEFAULT '[]', "
            "result TEXT, error_type TEXT, error_message TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0, pid INTEGER)"
        )
        connection.execute("INSERT INTO jobs (id, kind, status, created_at, request) VALUES ('old', 'training', "
                           "'succeeded', 1.0, '{}')")

    store = JobStore(path)
    job = store.create("audit", {}, max_active=1)
    store.mark_running(job["id"], pid=1)
    store.record_step(job["id"], stage="quality", completed=2, total=21)

    assert (store.get("old")["stage"], store.get("old")["completed"]) == (None, None)
    assert store.get(job["id"])["stage"] == "quality"
    assert (store.get(job["id"])["completed"], store.get(job["id"])["total"]) == (2, 21)
