"""Liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import ReadKey
from api.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health)
def get_health(request: Request) -> Health:
    """Report that the service is up; the only route that needs no API key."""
    return Health(version=request.app.version)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"example": 'longtail_jobs{status="running"} 1.0\n'}}}},
)
def get_metrics(request: Request, principal: ReadKey) -> Response:
    """Return requests, latencies, rows generated and jobs by status in the Prometheus text format."""
    metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=metrics.content_type)
