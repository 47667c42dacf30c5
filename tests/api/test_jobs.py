"""The SQLite job store: creation limits, progress, cancellation and interruption."""

from __future__ import annotations

import pytest

from api.jobs import CANCELLED, FAILED, INTERRUPTED, QUEUED, RUNNING, SUCCEEDED, JobStore
from api.worker import RESTART_MESSAGE, JobRunner
from generator.errors import LimitExceededError


@pytest.fixture
def store(tmp_path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3", max_batches=3)


def test_job_store_create_returns_queued_job(store):
    job = store.create("training", {"epochs": 3}, max_active=1)

    assert job["status"] == QUEUED
    assert job["request"] == {"epochs": 3}
    assert job["epoch"] == 0
    assert job["losses"] == []
    assert job["cancel_requested"] is False
    assert store.get(job["id"]) == job


def test_job_store_create_rejects_over_max_active(store):
    store.create("training", {}, max_active=2)
    store.create("training", {}, max_active=2)

    with pytest.raises(LimitExceededError, match=r"max_concurrent_jobs=2 reached: 2 job\(s\)") as caught:
        store.create("training", {}, max_active=2)

    assert caught.value.limit_name == "max_concurrent_jobs"
    assert caught.value.limit == 2
    assert caught.value.requested == 3


def test_job_store_finished_jobs_free_slots(store):
    first = store.create("training", {}, max_active=1)
    store.mark_running(first["id"], pid=123)
    store.finish(first["id"], SUCCEEDED, result={"model_id": "m", "version": 1})

    second = store.create("training", {}, max_active=1)

    assert second["status"] == QUEUED
    assert store.get(first["id"])["result"] == {"model_id": "m", "version": 1}


def test_job_store_records_epoch_progress(store):
    job = store.create("training", {}, max_active=1)
    assert store.mark_running(job["id"], pid=42)
    losses = [{"epoch": 1, "generator_loss": 1.5, "discriminator_loss": -0.25, "seconds": 2.0}]

    store.record_epoch(job["id"], epoch=1, epochs=4, generator_loss=1.5, discriminator_loss=-0.25,
                       eta_seconds=6.0, losses=losses)
    stored = store.get(job["id"])

    assert stored["status"] == RUNNING
    assert stored["pid"] == 42
    assert (stored["epoch"], stored["epochs"]) == (1, 4)
    assert stored["generator_loss"] == 1.5
    assert stored["eta_seconds"] == 6.0
    assert stored["losses"] == losses


def test_job_store_cancel_queued_job_is_final(store):
    job = store.create("training", {}, max_active=1)

    cancelled = store.request_cancel(job["id"])

    assert cancelled["status"] == CANCELLED
    assert cancelled["cancel_requested"] is True
    assert store.mark_running(job["id"], pid=1) is False


def test_job_store_cancel_running_job_sets_flag(store):
    job = store.create("training", {}, max_active=1)
    store.mark_running(job["id"], pid=1)
    assert store.should_stop(job["id"]) is False

    flagged = store.request_cancel(job["id"])

    assert flagged["status"] == RUNNING
    assert flagged["cancel_requested"] is True
    assert store.should_stop(job["id"]) is True


def test_job_store_finish_only_moves_active_jobs(store):
    job = store.create("training", {}, max_active=1)
    store.mark_running(job["id"], pid=1)

    assert store.finish(job["id"], FAILED, error_type="SchemaError", error_message="bad") is True
    assert store.finish(job["id"], SUCCEEDED) is False
    assert store.get(job["id"])["status"] == FAILED
    assert store.get(job["id"])["error_message"] == "bad"


def test_job_store_finish_rejects_active_status(store):
    job = store.create("training", {}, max_active=1)

    with pytest.raises(ValueError, match="invalid final job status 'running'"):
        store.finish(job["id"], RUNNING)


def test_job_runner_start_interrupts_leftover_jobs(store):
    running = store.create("training", {}, max_active=5)
    store.mark_running(running["id"], pid=99999)
    queued = store.create("training", {}, max_active=5)
    done = store.create("training", {}, max_active=5)
    store.finish(done["id"], SUCCEEDED)

    runner = JobRunner(store)
    runner.start()
    runner.stop()

    for job_id in (running["id"], queued["id"]):
        job = store.get(job_id)
        assert job["status"] == INTERRUPTED
        assert job["error_type"] == "JobInterrupted"
        assert job["error_message"] == RESTART_MESSAGE
        assert store.should_stop(job_id) is True
    assert store.get(done["id"])["status"] == SUCCEEDED


def test_job_store_counts_every_status(store):
    store.create("training", {}, max_active=5)
    job = store.create("training", {}, max_active=5)
    store.request_cancel(job["id"])

    counts = store.count_by_status()

    assert counts == {"queued": 1, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 1, "interrupted": 0}


def test_job_store_keeps_newest_batches(store):
    for index in range(5):
        store.save_batch(f"b{index}", "m", 1, 10, {"fidelity": {"scores": {"overall": index / 10}}, "plan": None})

    assert store.get_batch("b0") is None
    assert store.get_batch("b1") is None
    assert store.get_batch("b4")["fidelity"] == {"scores": {"overall": 0.4}}
    assert store.get_batch("b4")["row_count"] == 10
