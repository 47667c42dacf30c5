"""Training and audit jobs, each in its own process, outside the request.

A job process is started with the `spawn` context, so it shares no torch or
thread state with the service. A training job writes its progress to the job
row after every epoch and reads the row before every batch through
`should_stop`, so a cancel request stops it within one batch. It registers the
model only after training finished and the job was neither cancelled nor
interrupted. An audit job writes its progress after every audit step and
reads the row there, so a cancel request stops it after the current step. It
writes its report only after the audit finished uncancelled.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable

from api.jobs import CANCELLED, FAILED, INTERRUPTED, SUCCEEDED, JobStore
from api.redaction import redact_paths

logger = logging.getLogger(__name__)

# A leading dot keeps the folder apart from model ids, which start with a letter or digit.
AUDIT_REPORTS_FOLDER = ".audits"


def restart_message(kind: str) -> str:
    """Return the error message of a `kind` job that was active when the service last stopped."""
    return f"the service restarted while this job was queued or running; start a new {kind} job"


def shutdown_message(kind: str) -> str:
    """Return the error message of a `kind` job that was active when the service shut down."""
    return f"the service stopped while this job was queued or running; start a new {kind} job"


def service_exit_message(kind: str) -> str:
    """Return the error message of a `kind` job whose service process exited while it ran."""
    return f"the service process exited while this job was running; start a new {kind} job"


RESTART_MESSAGE = restart_message("training")
SERVICE_EXIT_MESSAGE = service_exit_message("training")
SHUTDOWN_MESSAGE = shutdown_message("training")


def audit_report_dir(registry_dir: Path, job_id: str) -> Path:
    """Return the folder of an audit job's `audit.json` and `audit.html`, under the registry's `audits/` folder."""
    return Path(registry_dir) / AUDIT_REPORTS_FOLDER / job_id


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
        interrupted = self.store.interrupt_active(restart_message)
        for job_id in interrupted:
            logger.warning("job %s marked interrupted: it was active when the service last stopped", job_id)

        self._monitor = threading.Thread(target=self._watch, name="longtail-job-monitor", daemon=True)
        self._monitor.start()

    def submit(self, job_id: str, spec: dict[str, Any], kind: str = "training") -> None:
        """Start the process of a queued job of `kind` 'training' or 'audit'."""
        process = self._context.Process(
            target=_JOB_TARGETS[kind],
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
                job_id,
                FAILED,
                error_type="JobStartError",
                error_message=redact_paths(f"the job process failed to start: {error}", {}),
            )
            raise
        logger.info("%s job %s started in process %s", kind, job_id, process.pid)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop the monitor, ask running jobs to stop and mark them interrupted."""
        self._stopping.set()
        interrupted = self.store.interrupt_active(shutdown_message)
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
                error_message=f"the job process exited with code {process.exitcode} before finishing the job",
            ):
                logger.error("job %s process %s exited with code %s", job_id, process.pid, process.exitcode)


def run_training_job(database: str, job_id: str, spec: dict[str, Any]) -> None:
    """Run one training job in the current process: load, train, register, record the result."""
    _run_job(database, job_id, spec, _train_and_register)


def run_audit_job(database: str, job_id: str, spec: dict[str, Any]) -> None:
    """Run one audit job in the current process: load the model and data, audit, write the report."""
    _run_job(database, job_id, spec, _audit_and_write)


def _run_job(database: str, job_id: str, spec: dict[str, Any], body: Callable[..., None]) -> None:
    logging.basicConfig(level=spec.get("log_level", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = JobStore(Path(database))
    parent_pid = os.getppid()

    def should_stop() -> bool:
        # A job whose service died is stopped too, so that it does not register a model or write a report
        # after the restarted service has reported it as interrupted.
        return os.getppid() != parent_pid or store.should_stop(job_id)

    try:
        if store.mark_running(job_id, os.getpid()):
            body(store, job_id, spec, should_stop)
        else:
            logger.info("job %s was cancelled or interrupted before it started", job_id)
    finally:
        upload_dir = spec.get("upload_dir")
        if upload_dir:
            shutil.rmtree(upload_dir, ignore_errors=True)


def _finish_stopped(store: JobStore, job_id: str, kind: str, error_type: str, message: str) -> None:
    """Record a job that stopped early: cancelled when a cancel was requested, else interrupted by a service exit."""
    job = store.get(job_id) or {}
    if job.get("cancel_requested"):
        store.finish(job_id, CANCELLED, error_type=error_type, error_message=message)
    else:
        store.finish(job_id, INTERRUPTED, error_type="JobInterrupted", error_message=service_exit_message(kind))


def _finish_failed(store: JobStore, job_id: str, kind: str, error: Exception, spec: dict[str, Any]) -> None:
    """Record a failed job: input errors keep the library's message, less server paths; others cite the log."""
    from generator.errors import LongtailInputError

    if isinstance(error, LongtailInputError):
        message = redact_paths(str(error), _spec_roots(spec))
        store.finish(job_id, FAILED, error_type=type(error).__name__, error_message=message)
        logger.info("job %s failed on invalid input: %s", job_id, error)
        return

    logger.error("job %s failed", job_id, exc_info=error)
    store.finish(
        job_id,
        FAILED,
        error_type="InternalError",
        error_message=f"{kind} failed with {type(error).__name__}; the service log has the details under job {job_id}",
    )


def _spec_roots(spec: dict[str, Any]) -> dict[str, str | None]:
    """Return the server folders of a job spec by the label that replaces them in job error messages."""
    return {
        "<registry>": spec.get("registry_dir"),
        "<data>": spec.get("data_dir"),
        "<uploads>": spec.get("upload_dir"),
    }


def _registry(spec: dict[str, Any]):
    from generator.registry import Registry

    hmac_key = spec.get("hmac_key")
    return Registry(Path(spec["registry_dir"]), hmac_key=hmac_key.encode("utf-8") if hmac_key else None)


def _train_and_register(store: JobStore, job_id: str, spec: dict[str, Any], should_stop) -> None:
    from generator.errors import TrainingCancelledError
    from generator.model import TrainingSettings, train

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

        ref = _registry(spec).register(model, model_id=spec["model_id"])
    except TrainingCancelledError as error:
        _finish_stopped(store, job_id, "training", "TrainingCancelledError", str(error))
        logger.info("job %s stopped after %.1f s; no model registered", job_id, time.monotonic() - started)
        return
    except Exception as error:
        _finish_failed(store, job_id, "training", error, spec)
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


class _AuditStopped(Exception):
    """The audit job was cancelled, or its service is gone; raised from the progress callback and between stages."""


def _audit_and_write(store: JobStore, job_id: str, spec: dict[str, Any], should_stop) -> None:
    from generator.audit.model_audit import run_model_audit
    from generator.audit.report import write_report

    def on_step(step) -> None:
        store.record_step(job_id, stage=step.stage, completed=step.completed, total=step.total)
        if should_stop():
            raise _AuditStopped(
                f"cancelled after audit step {step.completed} of {step.total} ({step.stage}); no report was written"
            )

    started = time.monotonic()
    report_dir = Path(spec["report_dir"])
    try:
        store.record_step(job_id, stage="loading data", completed=0, total=None)
        model, train, holdout, synthetic = _load_audit_inputs(spec)
        if should_stop():
            raise _AuditStopped("cancelled before the audit started; no report was written")

        store.record_step(job_id, stage="sampling and checks", completed=0, total=None)
        logger.info("job %s auditing model %s version %s against %d holdout rows", job_id, spec["model_id"],
                    spec["version"], len(holdout))
        audit = run_model_audit(
            model, holdout, synthetic, spec["n"], spec["seed"], None, on_step, train=train, **spec["options"]
        )
        if should_stop():
            raise _AuditStopped("cancelled after the last audit step; no report was written")
        write_report(audit.report, report_dir)
    except _AuditStopped as error:
        _finish_stopped(store, job_id, "audit", "JobCancelled", str(error))
        logger.info("job %s stopped after %.1f s; no report written", job_id, time.monotonic() - started)
        return
    except Exception as error:
        _finish_failed(store, job_id, "audit", error, spec)
        return

    result = {
        "model_id": spec["model_id"],
        "version": spec["version"],
        "report": f"/v1/audits/{job_id}",
        "headline": audit.report["summary"]["headline"],
    }
    if not store.finish(job_id, SUCCEEDED, result=result):
        # The job was cancelled or interrupted while the report was written: a final job has no report.
        shutil.rmtree(report_dir, ignore_errors=True)
        logger.warning("job %s finished its audit after it was marked final; its report was removed", job_id)
        return
    logger.info("job %s succeeded in %.1f s: audit report in %s", job_id, time.monotonic() - started, report_dir)


def _load_audit_inputs(spec: dict[str, Any]):
    """Load the model, its training data (checked against the manifest's fingerprint), the holdout and synthetic rows."""
    from generator.errors import InvalidDataError
    from generator.loading import load_table
    from generator.model import data_fingerprint

    model = _registry(spec).load(spec["model_id"], spec["version"])
    source = model.schema.source
    train = load_table(spec["training_path"], source)

    recorded = (model.manifest.get("data") or {}).get("fingerprint")
    fingerprint = data_fingerprint(train)
    if fingerprint != recorded:
        raise InvalidDataError(
            f"the training data {spec['training_name']!r} of model {spec['model_id']!r} version {spec['version']} "
            f"changed since training: its fingerprint is {fingerprint}, the manifest records {recorded}; restore "
            "the file, pass the original data as 'training_dataset', or retrain the model"
        )

    holdout = load_table(spec["holdout_path"], source)
    synthetic = load_table(spec["synthetic_path"], source) if spec.get("synthetic_path") else None
    return model, train, holdout, synthetic


_JOB_TARGETS: dict[str, Callable[[str, str, dict[str, Any]], None]] = {
    "training": run_training_job,
    "audit": run_audit_job,
}
