"""Job status and cancellation."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from api.auth import ReadKey, WriteKey
from api.jobs import FINAL_STATUSES
from api.schemas import ErrorResponse, JobError, JobProgress, JobPublic

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def job_public(job: dict[str, Any]) -> JobPublic:
    """Convert a job row of the store into its response body."""
    error = None
    if job["error_type"] is not None:
        error = JobError(type=job["error_type"], message=job["error_message"] or "")
    return JobPublic(
        job_id=job["id"],
        kind=job["kind"],
        status=job["status"],
        created_at=job["created_at"],
        started_at=job["started_at"],
        finished_at=job["finished_at"],
        cancel_requested=job["cancel_requested"],
        progress=JobProgress(
            epoch=job["epoch"],
            epochs=job["epochs"] if job["epochs"] is not None else job["request"].get("epochs"),
            generator_loss=job["generator_loss"],
            discriminator_loss=job["discriminator_loss"],
            eta_seconds=job["eta_seconds"],
            losses=job["losses"],
            stage=job["stage"],
            completed=job["completed"],
            total=job["total"],
        ),
        result=job["result"],
        error=error,
    )


def _get_job_or_404(request: Request, job_id: str) -> dict[str, Any]:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id!r} not found; list jobs with GET /v1/jobs")
    return job


@router.get("", response_model=list[JobPublic])
def list_jobs(request: Request, principal: ReadKey, limit: int = 100) -> list[JobPublic]:
    """List the most recent jobs, newest first."""
    return [job_public(job) for job in request.app.state.jobs.list(limit=max(1, min(limit, 1000)))]


@router.get("/{job_id}", response_model=JobPublic, responses={404: {"model": ErrorResponse}})
def get_job(job_id: str, request: Request, principal: ReadKey) -> JobPublic:
    """Return the status, progress (epochs and losses, or audit steps), ETA and result or error of a job."""
    return job_public(_get_job_or_404(request, job_id))


@router.delete(
    "/{job_id}",
    status_code=202,
    response_model=JobPublic,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def cancel_job(job_id: str, request: Request, principal: WriteKey) -> JSONResponse:
    """Cancel a job: a queued job stops at once, a running training within one batch, a running audit after its step."""
    job = _get_job_or_404(request, job_id)
    if job["status"] in FINAL_STATUSES:
        raise HTTPException(409, f"job {job_id} is already {job['status']}; only queued or running jobs can be cancelled")

    job = request.app.state.jobs.request_cancel(job_id)
    logger.info("job %s cancel requested by %s", job_id, principal.name)
    return JSONResponse(job_public(job).model_dump(mode="json"), status_code=202)
