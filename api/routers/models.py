"""Models in the registry, and rows sampled from them."""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api import formats
from api.auth import ReadKey
from api.bodies import JsonBodyRoute
from api.schemas import AugmentationRequest, ErrorResponse, ModelList, ModelPublic, SampleBatch, SampleRequest
from generator.errors import LimitExceededError
from generator.registry import summarize_manifest
from generator.schema import Role

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/models", tags=["models"], route_class=JsonBodyRoute)

_ROW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Rows with their fidelity statistics. JSON by default; CSV, Parquet or Arrow IPC by `Accept`. "
        "Every format carries `X-Longtail-Batch-Id` and `X-Longtail-Fidelity`; Parquet and Arrow also carry the "
        "statistics in their schema metadata under `longtail.batch`.",
        "content": {
            formats.CSV: {"schema": {"type": "string"}},
            formats.PARQUET: {"schema": {"type": "string", "format": "binary"}},
            formats.ARROW: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse, "description": "No model or version of that id."},
    406: {"model": ErrorResponse, "description": "The `Accept` header names no supported format."},
    413: {"model": ErrorResponse, "description": "The batch exceeds `max_rows_per_request`."},
    422: {"model": ErrorResponse, "description": "Unknown condition column or value, or an invalid plan."},
}


def _summary_to_public(summary: dict[str, Any]) -> ModelPublic:
    versions = [int(version) for version in summary.get("versions", [])]
    return ModelPublic(
        model_id=summary["model_id"],
        versions=versions,
        latest_version=max(versions) if versions else None,
        summary=summary.get("latest"),
    )


@router.get("", response_model=ModelList)
def list_models(request: Request, principal: ReadKey) -> ModelList:
    """List the models in the registry with their versions and a summary of the latest version."""
    summaries = request.app.state.models.registry.list_models()
    return ModelList(models=[_summary_to_public(summary) for summary in summaries])


@router.get("/{model_id}", response_model=ModelPublic, responses={404: {"model": ErrorResponse}})
def get_model(model_id: str, request: Request, principal: ReadKey, version: int | None = None) -> ModelPublic:
    """Return a model's versions and the full manifest of one version, the latest by default."""
    registry = request.app.state.models.registry
    manifest = registry.manifest(model_id, version)
    versions = registry.versions(model_id)
    return ModelPublic(
        model_id=model_id,
        versions=versions,
        latest_version=max(versions) if versions else None,
        summary=summarize_manifest(manifest),
        manifest=manifest,
    )


def _check_row_limit(requested: int, limit: int) -> None:
    if requested > limit:
        raise LimitExceededError(
            f"{requested} rows exceed the limit max_rows_per_request={limit}; "
            "split the request into several calls with different seeds",
            limit_name="max_rows_per_request",
            limit=limit,
            requested=requested,
        )


def arrow_column_types(model) -> dict[str, pa.DataType]:
    """Return the Arrow type of every schema column as a full batch has it, for the columns of empty batches.

    This follows `generator.output.format_rows`: integer numerical columns and unix timestamps are int64, other
    numerical columns double, and label, key, categorical, boolean and formatted datetime columns strings.
    """
    types: dict[str, pa.DataType] = {}
    for name, spec in model.schema.columns.items():
        if spec.role is Role.NUMERICAL:
            types[name] = pa.int64() if model.encoder.continuous[name].integer else pa.float64()
        elif spec.role is Role.DATETIME:
            types[name] = pa.int64() if spec.format in ("unix_s", "unix_ms") else pa.string()
        else:
            types[name] = pa.string()
    return types


def _respond(
    request: Request,
    media_type: str,
    rows: pd.DataFrame,
    statistics: dict[str, Any],
    kind: str,
    column_types: dict[str, pa.DataType],
) -> StreamingResponse:
    app = request.app
    batch_id = statistics["batch_id"]
    stored = {key: statistics[key] for key in ("match_rate", "plan", "fidelity")}
    app.state.jobs.save_batch(batch_id, statistics["model_id"], statistics["version"], len(rows), stored)
    app.state.metrics.rows_generated.labels(statistics["model_id"], kind).inc(len(rows))
    logger.info(
        "request %s: %s batch %s of %d rows from model %s version %s as %s",
        request.scope.get("state", {}).get("request_id"),
        kind,
        batch_id,
        len(rows),
        statistics["model_id"],
        statistics["version"],
        media_type,
    )

    body = formats.encode(rows, media_type, statistics, app.state.settings.stream_chunk_rows, column_types)
    return StreamingResponse(body, media_type=media_type, headers=formats.statistics_headers(batch_id, statistics))


@router.post("/{model_id}/samples", response_model=SampleBatch, responses=_ROW_RESPONSES)
def create_samples(model_id: str, body: SampleRequest, request: Request, principal: ReadKey) -> StreamingResponse:
    """Sample rows that satisfy every condition, with the fidelity of the batch."""
    media_type = formats.negotiate(request.headers.get("accept"))
    limit = request.app.state.settings.max_rows_per_request
    _check_row_limit(body.count, limit)

    model, version, lock = request.app.state.models.load(model_id, body.version)
    # NOTE: the library returns a whole batch with its fidelity, so the rows of one request are in memory
    # at once, bounded by max_rows_per_request. Only the encoded body is streamed chunk by chunk.
    with lock:
        result = model.sample(
            body.count, conditions=body.conditions, seed=body.seed, user_ids=body.user_ids, max_rows=limit
        )

    statistics = {
        "batch_id": uuid.uuid4().hex,
        "model_id": model_id,
        "version": version,
        "row_count": len(result.rows),
        "match_rate": result.match_rate,
        "plan": None,
        "fidelity": result.fidelity,
    }
    return _respond(request, media_type, result.rows, statistics, "samples", arrow_column_types(model))


@router.post("/{model_id}/augmentations", response_model=SampleBatch, responses=_ROW_RESPONSES)
def create_augmentation(
    model_id: str, body: AugmentationRequest, request: Request, principal: ReadKey
) -> StreamingResponse:
    """Generate the rows of a balancing plan, returned with the plan and the fidelity of the batch."""
    media_type = formats.negotiate(request.headers.get("accept"))
    limit = request.app.state.settings.max_rows_per_request

    model, version, lock = request.app.state.models.load(model_id, body.version)
    # The library checks the plan's total against max_rows before it generates any row.
    with lock, _renamed_row_limit():
        result = model.augment(
            body.sampling_strategy,
            class_counts=body.class_counts,
            conditions=body.conditions,
            seed=body.seed,
            user_ids=body.user_ids,
            max_rows=limit,
        )

    statistics = {
        "batch_id": uuid.uuid4().hex,
        "model_id": model_id,
        "version": version,
        "row_count": len(result.rows),
        "match_rate": None,
        "plan": result.plan.to_dict(),
        "fidelity": result.fidelity,
    }
    return _respond(request, media_type, result.rows, statistics, "augmentations", arrow_column_types(model))


@contextmanager
def _renamed_row_limit() -> Iterator[None]:
    """Re-raise the library's `max_rows` limit error under the service's setting name."""
    try:
        yield
    except LimitExceededError as error:
        if error.limit_name != "max_rows":
            raise
        _check_row_limit(int(error.requested), int(error.limit))
        raise
