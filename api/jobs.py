"""SQLite job store: one row per job with its status, progress, result and error.

The service process and the job processes open the same file. Each call
opens its own connection, so the store is safe to use from threads and from
other processes; WAL mode lets readers proceed while a job writes progress.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from generator.errors import LimitExceededError

logger = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
INTERRUPTED = "interrupted"

ACTIVE_STATUSES = (QUEUED, RUNNING)
FINAL_STATUSES = (SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)
ALL_STATUSES = ACTIVE_STATUSES + FINAL_STATUSES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    request TEXT NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0,
    epochs INTEGER,
    generator_loss REAL,
    discriminator_loss REAL,
    eta_seconds REAL,
    losses TEXT NOT NULL DEFAULT '[]',
    stage TEXT,
    completed INTEGER,
    total INTEGER,
    result TEXT,
    error_type TEXT,
    error_message TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    model_id TEXT NOT NULL,
    version INTEGER,
    row_count INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""

_JSON_COLUMNS = ("request", "losses", "result")

# Columns that job stores written by earlier versions lack, with their SQL types; `_add_missing_columns` adds them.
_ADDED_COLUMNS = {"stage": "TEXT", "completed": "INTEGER", "total": "INTEGER"}


class JobStore:
    """Jobs and batch statistics in one SQLite file."""

    def __init__(self, path: Path, *, max_batches: int = 1000):
        self.path = Path(path)
        self.max_batches = max_batches
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            _add_missing_columns(connection)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.row_factory = sqlite3.Row
        try:
            yield connection
        finally:
            connection.close()

    def create(self, kind: str, request: dict[str, Any], *, max_active: int) -> dict[str, Any]:
        """Insert a queued job, or raise LimitExceededError when `max_active` jobs are queued or running."""
        job_id = uuid.uuid4().hex
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                (active,) = connection.execute(
                    "SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)", ACTIVE_STATUSES
                ).fetchone()
                if active >= max_active:
                    raise LimitExceededError(
                        f"limit max_concurrent_jobs={max_active} reached: {active} job(s) are queued or running; "
                        "wait for one to finish or cancel it with DELETE /v1/jobs/{job_id}",
                        limit_name="max_concurrent_jobs",
                        limit=max_active,
                        requested=active + 1,
                    )
                connection.execute(
                    "INSERT INTO jobs (id, kind, status, created_at, request) VALUES (?, ?, ?, ?, ?)",
                    (job_id, kind, QUEUED, time.time(), json.dumps(request)),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str) -> dict[str, Any] | None:
        """Return a job as a dict, or None when no job has that id."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row is not None else None

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the most recent jobs, newest first."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [_row_to_job(row) for row in rows]

    def count_by_status(self) -> dict[str, int]:
        """Return the number of jobs in each status, zero included."""
        counts = dict.fromkeys(ALL_STATUSES, 0)
        with self._connect() as connection:
            for status, count in connection.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status"):
                counts[status] = count
        return counts

    def mark_running(self, job_id: str, pid: int) -> bool:
        """Move a queued job to running; return False when it was cancelled or interrupted before it started."""
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE jobs SET status = ?, started_at = ?, pid = ? WHERE id = ? AND status = ?",
                (RUNNING, time.time(), pid, job_id, QUEUED),
            )
        return cursor.rowcount == 1

    def record_epoch(
        self,
        job_id: str,
        *,
        epoch: int,
        epochs: int,
        generator_loss: float,
        discriminator_loss: float,
        eta_seconds: float | None,
        losses: list[dict[str, float]],
    ) -> None:
        """Store the progress of a running job after an epoch."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE jobs SET epoch = ?, epochs = ?, generator_loss = ?, discriminator_loss = ?, "
                "eta_seconds = ?, losses = ? WHERE id = ? AND status = ?",
                (epoch, epochs, generator_loss, discriminator_loss, eta_seconds, json.dumps(losses), job_id, RUNNING),
            )

    def record_step(self, job_id: str, *, stage: str, completed: int, total: int | None) -> None:
        """Store the progress of a running job made of steps, such as an audit: `completed` of `total` after `stage`."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE jobs SET stage = ?, completed = ?, total = ? WHERE id = ? AND status = ?",
                (stage, completed, total, job_id, RUNNING),
            )

    def should_stop(self, job_id: str) -> bool:
        """Return True when the job was cancelled or is no longer marked running."""
        with self._connect() as connection:
            row = connection.execute("SELECT status, cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is None or bool(row["cancel_requested"]) or row["status"] != RUNNING

    def request_cancel(self, job_id: str) -> dict[str, Any] | None:
        """Flag a job for cancellation; a queued job becomes cancelled at once. Return the job, or None."""
        with self._connect() as connection:
            connection.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            connection.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, "
                "error_type = CASE kind WHEN 'training' THEN 'TrainingCancelledError' ELSE 'JobCancelled' END, "
                "error_message = ? WHERE id = ? AND status = ?",
                (CANCELLED, time.time(), "cancelled before it started", job_id, QUEUED),
            )
        return self.get(job_id)

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Move a running or queued job to a final status; return False when it had already finished."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"invalid final job status {status!r}: expected one of {FINAL_STATUSES}")
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, result = ?, error_type = ?, error_message = ?, "
                "eta_seconds = NULL WHERE id = ? AND status IN (?, ?)",
                (
                    status,
                    time.time(),
                    json.dumps(result) if result is not None else None,
                    error_type,
                    error_message,
                    job_id,
                    *ACTIVE_STATUSES,
                ),
            )
        return cursor.rowcount == 1

    def interrupt_active(self, message_for: Callable[[str], str]) -> list[str]:
        """Mark every queued or running job as interrupted, with the message `message_for(kind)`; return their ids."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            active = connection.execute("SELECT id, kind FROM jobs WHERE status IN (?, ?)", ACTIVE_STATUSES).fetchall()
            finished_at = time.time()
            for row in active:
                connection.execute(
                    "UPDATE jobs SET status = ?, finished_at = ?, error_type = ?, error_message = ?, eta_seconds = NULL "
                    "WHERE id = ?",
                    (INTERRUPTED, finished_at, "JobInterrupted", message_for(row["kind"]), row["id"]),
                )
            connection.execute("COMMIT")
        return [row["id"] for row in active]

    def save_batch(self, batch_id: str, model_id: str, version: int | None, row_count: int, body: dict) -> None:
        """Store the statistics of a generated batch, keeping only the newest `max_batches`."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO batches (id, created_at, model_id, version, row_count, body) VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, time.time(), model_id, version, row_count, json.dumps(body)),
            )
            connection.execute(
                "DELETE FROM batches WHERE id NOT IN (SELECT id FROM batches ORDER BY created_at DESC LIMIT ?)",
                (self.max_batches,),
            )

    def get_batch(self, batch_id: str) -> dict[str, Any] | None:
        """Return the stored statistics of a batch, or None."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            return None
        return {
            "batch_id": row["id"],
            "model_id": row["model_id"],
            "version": row["version"],
            "row_count": row["row_count"],
            "created_at": row["created_at"],
            **json.loads(row["body"]),
        }


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row["name"] for row in connection.execute("PRAGMA table_info(jobs)")}
    for name, sql_type in _ADDED_COLUMNS.items():
        if name not in present:
            connection.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}")


def _row_to_job(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    for column in _JSON_COLUMNS:
        if job[column] is not None:
            job[column] = json.loads(job[column])
    job["cancel_requested"] = bool(job["cancel_requested"])
    return job
