"""Statistics of generated batches, for callers that received rows in a binary format."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from api.auth import ReadKey
from api.schemas import BatchStatistics, ErrorResponse

router = APIRouter(prefix="/v1/batches", tags=["models"])


@router.get("/{batch_id}", response_model=BatchStatistics, responses={404: {"model": ErrorResponse}})
def get_batch(batch_id: str, request: Request, principal: ReadKey) -> BatchStatistics:
    """Return the plan and fidelity of a batch named by its `X-Longtail-Batch-Id` header."""
    batch = request.app.state.jobs.get_batch(batch_id)
    if batch is None:
        raise HTTPException(404, f"batch {batch_id!r} not found; the service keeps the statistics of recent batches only")
    return BatchStatistics.model_validate(batch)
