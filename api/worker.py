"""Training jobs, each in its own process, outside the request.

A job process is started with the `spawn` context, so it shares no torch or
thread state with the service. It writes its progress to the job row after
every epoch and reads the row before every batch through `should_stop`, so a
cancel request stops it within one batch. It registers the model only after
training finished and the job was neither cancelled nor interrupted.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from api.jobs import CANCELLED, FAILED, INTERRUPTED, SUCCEEDED, JobStore

logger = logging.getLogger(__name__)

RESTART_MESSAGE = "the service restarted while this job was queued or running; start a new training job"
SERVICE_EXIT_MESSAGE = "the service process exited while this job was running; start a new training job"
SHUTDOWN_MESSAGE = "the service stopped while this job was queued or running; start a new training job"


class JobRunner:
    """Starts job processes and records the exit of any that die without finishing their job."""

    def __init__(self, store: JobStore, *, poll_seconds: float = 0.5):
        self.store = store
        self.poll_seconds = poll_seconds
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[str, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        """Mark jobs left over from a previous process as interrupted and start the monitor thread.

        NOTE: this assumes one service process per job store. A second process on the same SQLite
        file (such as `uvicorn --workers 2`) would mark the first one's running jobs as interrupted.
        """
        interrupted = self.store.interrupt_active(RESTART_MESSAGE)
        for job_id in interrupted:
            logger.warning("job %s marked interrupted: it was active when the service last stopped", job_id)

        self._monitor = threading.Thread(target=self._watch, name="longtail-job-monitor", daemon=True)
        self._monitor.start()

    def submit(self, job_id: str, spec: dict[str, Any]) -> None:
        """Start the process of a queued training job."""
        process = self._context.Process(
            target=run_training_job,
            args=(str(self.store.path), job_id, spec),
            name=f"longtail-job-{job_id}",
            daemon=True,
        )
        try:
            with self._lock:
                process.start()
                self._processes[job_id] = process
        except Exception as error:
            logger.exception("job %s could not start its process", job_id)
            self.store.finish(
                job_id, FAILED, error_type="JobStartError", error_message=f"the training process failed to start: {error}"
            )
            raise
        logger.info("job %s started in process %s", job_id, process.pid)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop the monitor, ask running jobs to stop and mark them interrupted."""
        self._stopping.set()
        interrupted = self.store.interrupt_active(SHUTDOWN_MESSAGE)
        for job_id in interrupted:
            logger.warning("job %s interrupted by the service shutdown", job_id)

        with self._lock:
            processes = list(self._processes.items())
        deadline = time.monotonic() + grace_seconds
        for job_id, process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("job %s did not stop within %.1f s; terminating process %s", job_id, grace_seconds, process.pid)
                process.terminate()
                process.join(2.0)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_seconds):
            self._reap()

    def _reap(self) -> None:
        with self._lock:
            finished = [(job_id, process) for job_id, process in self._processes.items() if not process.is_alive()]
            for job_id, _ in finished:
                del self._processes[job_id]

        for job_id, process in finished:
            process.join()
            if self.store.finish(
                job_id,
                FAILED,
                error_type="JobProcessExited",
                error_message=f"the training process exited with code {process.exitcode} before finishing the job",
            ):
                logger.error("job %s process %s exited with code %s", job_id, process.pid, process.exitcode)


def run_training_job(database: str, job_id: str, spec: dict[str, Any]) -> None:
    """Run one training job in the current process: load, train, register, record the result."""
    logging.basicConfig(level=spec.get("log_level", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = JobStore(Path(database))
    parent_pid = os.getppid()

    def should_stop() -> bool:
        # A job whose service died is stopped too, so that it does not register a model after
        # the restarted service has reported it as interrupted.
        return os.getppid() != parent_pid or store.should_stop(job_id)

    try:
        if store.mark_running(job_id, os.getpid()):
            _train_and_register(store, job_id, spec, should_stop)
        else:
            logger.info("job %s was cancelled or interrupted before it started", job_id)
    finally:
        upload_dir = spec.get("upload_dir")
        if upload_dir:
            shutil.rmtree(upload_dir, ignore_errors=True)


def _train_and_register(store: JobStore, job_id: str, spec: dict[str, Any], should_stop) -> None:
    from generator.errors import LongtailInputError, TrainingCancelledError
    from generator.model import TrainingSettings, train
    from generator.registry import Registry

    losses: list[dict[str, float]] = []

    def on_epoch(progress) -> None:
        losses.append(
            {
                "epoch": progress.epoch,
                "generator_loss": float(progress.generator_loss),
                "discriminator_loss": float(progress.discriminator_loss),
                "seconds": float(progress.seconds),
            }
        )
        store.record_epoch(
            job_id,
            epoch=progress.epoch,
            epochs=progress.epochs,
            generator_loss=float(progress.generator_loss),
            discriminator_loss=float(progress.discriminator_loss),
            eta_seconds=None if progress.eta_seconds is None else float(progress.eta_seconds),
            losses=losses,
        )

    started = time.monotonic()
    try:
        schema, frame = _load_training_data(spec)
        settings = TrainingSettings.model_validate(spec["training"])
        logger.info("job %s training on %d rows for %d epochs", job_id, len(frame), settings.epochs)
        model = train(
            frame, schema, settings, on_epoch=on_epoch, should_stop=should_stop, source=spec.get("source"),
            model_id=spec["model_id"],
        )
        if should_stop():
            raise TrainingCancelledError("training finished but the job was cancelled; nothing was registered")

        hmac_key = spec.get("hmac_key")
        registry = Registry(Path(spec["registry_dir"]), hmac_key=hmac_key.encode("utf-8") if hmac_key else None)
        ref = registry.register(model, model_id=spec["model_id"])
    except TrainingCancelledError as error:
        job = store.get(job_id) or {}
        if job.get("cancel_requested"):
            store.finish(job_id, CANCELLED, error_type="TrainingCancelledError", error_message=str(error))
        else:
            store.finish(job_id, INTERRUPTED, error_type="JobInterrupted", error_message=SERVICE_EXIT_MESSAGE)
        logger.info("job %s stopped after %.1f s; no model registered", job_id, time.monotonic() - started)
        return
    except LongtailInputError as error:
        store.finish(job_id, FAILED, error_type=type(error).__name__, error_message=str(error))
        logger.info("job %s failed on invalid input: %s", job_id, error)
        return
    except Exception as error:
        logger.exception("job %s failed", job_id)
        store.finish(
            job_id,
            FAILED,
            error_type="InternalError",
            error_message=f"training failed with {type(error).__name__}; the service log has the details under job {job_id}",
        )
        return

    result = {"model_id": ref.model_id, "version": ref.version}
    if not store.finish(job_id, SUCCEEDED, result=result):
        logger.warning("job %s registered %s version %s after it was marked final", job_id, ref.model_id, ref.version)
    logger.info(
        "job %s succeeded in %.1f s: model %s version %s", job_id, time.monotonic() - started, ref.model_id, ref.version
    )


def _load_training_data(spec: dict[str, Any]):
    from generator.inference import infer_schema
    from generator.loading import load_table, sniff_source
    from generator.schema import Schema

    dataset = Path(spec["dataset_path"])
    if spec.get("schema") is not None:
        schema = Schema.from_dict(spec["schema"], origin="request schema")
        return schema, load_table(dataset, schema.source)

    source = sniff_source(dataset)
    frame = load_table(dataset, source)
    return infer_schema(frame, source), frame
