"""Training jobs: by dataset path under the data directory, or by multipart upload."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth import WriteKey
from api.bodies import (
    UNSAFE_NAME,
    InvalidRequestError,
    describe_validation_error,
    parse_request_model,
    require_json_content_type,
    save_upload,
)
from api.routers.jobs import job_public
from api.schemas import ErrorResponse, JobPublic, TrainingJobCreate
from generator.errors import InvalidDataError, LimitExceededError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/training-jobs", tags=["jobs"])


_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/TrainingJobCreate"},
            "example": TrainingJobCreate.model_config["json_schema_extra"]["examples"][0],
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "CSV or Parquet file."},
                    "request": {
                        "type": "string",
                        "description": "TrainingJobCreate as a JSON string, without `dataset`.",
                        "example": '{"minority_values": ["buy"], "epochs": 10, "seed": 7}',
                    },
                },
            }
        },
    },
}


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        413: {"model": ErrorResponse, "description": "The upload exceeds `max_upload_bytes`."},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse, "description": "`max_concurrent_jobs` jobs are already queued or running."},
    },
)
async def create_training_job(request: Request, principal: WriteKey) -> JSONResponse:
    """Start a training job on a dataset path or an uploaded file; poll `GET /v1/jobs/{job_id}` for progress."""
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    upload_dir: Path | None = None

    try:
        if content_type.startswith("multipart/form-data"):
            body, upload_dir, dataset_path = await _read_upload(request, settings.uploads_dir)
        else:
            require_json_content_type(content_type, also_accepted=("multipart/form-data",))
            body = _parse_body(await request.body())
            dataset_path = _dataset_path(settings.data_dir, body)

        # Validation, the SQLite transaction and the process start block, so they run off the event loop.
        job, spec = await run_in_threadpool(_submit_job, request.app, body, dataset_path, upload_dir)
    except BaseException:
        if upload_dir is not None:
            shutil.rmtree(upload_dir, ignore_errors=True)
        raise

    logger.info("job %s queued by %s: model %s, %d epochs", job["id"], principal.name, spec["model_id"], body.epochs)
    return JSONResponse(
        job_public(job).model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job['id']}"}
    )


def _submit_job(app, body: TrainingJobCreate, dataset_path: Path, upload_dir: Path | None):
    settings = app.state.settings
    spec = _job_spec(body, dataset_path, settings, upload_dir)
    job = app.state.jobs.create(
        "training", _public_request(body, dataset_path, upload_dir), max_active=settings.max_concurrent_jobs
    )
    app.state.runner.submit(job["id"], spec)
    return job, spec


def _parse_body(raw: bytes | str) -> TrainingJobCreate:
    return parse_request_model(raw, TrainingJobCreate, "training")


async def _read_upload(request: Request, uploads_dir: Path) -> tuple[TrainingJobCreate, Path, Path]:
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequestError("multipart training request needs a file field named 'file' with a CSV or Parquet file")

    body = _parse_body(form.get("request") or "{}")
    if body.dataset is not None:
        raise InvalidRequestError("give the dataset either as 'file' or as 'dataset.path', not both")

    upload_dir, target = await save_upload(upload, uploads_dir, "upload.csv")
    await form.close()
    return body, upload_dir, target


def resolve_dataset_path(data_dir: Path, path: str) -> Path:
    """Return the real path of a dataset under `data_dir`; raise InvalidDataError for paths that leave it."""
    if "\x00" in path or not path.strip():
        raise InvalidDataError(f"invalid dataset path {path!r}: give a file path relative to the data directory")
    if ".." in PurePosixPath(path.replace("\\", "/")).parts:
        raise InvalidDataError(f"invalid dataset path {path!r}: '..' is not allowed; give a path inside the data directory")

    root = data_dir.resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidDataError(
            f"invalid dataset path {path!r}: it resolves outside the data directory; "
            "training by path reads only files under LONGTAIL_DATA_DIR"
        )
    if not resolved.is_file():
        raise InvalidDataError(f"dataset {path!r} not found under the data directory")
    return resolved


def _dataset_path(data_dir: Path, body: TrainingJobCreate) -> Path:
    if body.dataset is None:
        raise InvalidRequestError("training request needs 'dataset.path', or a multipart upload with a 'file' field")
    return resolve_dataset_path(data_dir, body.dataset.path)


def _job_spec(body: TrainingJobCreate, dataset_path: Path, settings, upload_dir: Path | None) -> dict[str, Any]:
    """Validate the request against the library and return what the job process needs."""
    from generator.model import TrainingSettings
    from generator.schema import Schema

    if body.epochs > settings.max_epochs:
        raise LimitExceededError(
            f"epochs={body.epochs} exceeds the limit max_epochs={settings.max_epochs}; request fewer epochs",
            limit_name="max_epochs",
            limit=settings.max_epochs,
            requested=body.epochs,
        )

    schema = Schema.from_dict(body.schema_, origin="request schema") if body.schema_ is not None else None
    training = _training_settings(body, schema)
    try:
        TrainingSettings.model_validate(training)
    except ValidationError as error:
        raise InvalidRequestError("invalid training settings: " + describe_validation_error(error)) from None

    model_id = body.model_id or _default_model_id(dataset_path)
    check_model_id_free(model_id, settings)
    hmac_key = settings.registry_hmac_key.get_secret_value() if settings.registry_hmac_key else None
    return {
        "dataset_path": str(dataset_path),
        "source": body.dataset.path if body.dataset is not None else f"upload:{dataset_path.name}",
        "schema": body.schema_,
        "training": training,
        "model_id": model_id,
        "registry_dir": str(settings.registry_dir),
        "data_dir": str(settings.data_dir),
        "hmac_key": hmac_key,
        "upload_dir": str(upload_dir) if upload_dir is not None else None,
    }


def reserved_names(settings) -> set[str]:
    """Return the lower-cased names that the service writes directly under the registry folder.

    The job store (by default `jobs.sqlite3`) and its SQLite `-wal`, `-shm` and `-journal` files, and the
    `uploads` folder beside it, are there when the job store is in the registry folder. Audit reports go to
    `.audits` and the registry stages new versions in `.staging-*`; model ids cannot start with a dot, so
    those two never collide.
    """
    names = {"jobs.sqlite3", "uploads"}
    names.add(settings.job_database.name)
    names.add(settings.uploads_dir.name)
    names |= {name + suffix for name in list(names) for suffix in ("-wal", "-shm", "-journal")}
    return {name.lower() for name in names}


def check_model_id_free(model_id: str, settings) -> None:
    """Raise InvalidRequestError when a model id names one of the service's own files in the registry folder."""
    # Compared without case, because the registry folder may be on a case-insensitive file system.
    if model_id.lower() in reserved_names(settings):
        raise InvalidRequestError(
            f"invalid model_id {model_id!r}: the service keeps its own file or folder of that name in the registry "
            "folder; choose another model_id"
        )


def _training_settings(body: TrainingJobCreate, schema) -> dict[str, Any]:
    training: dict[str, Any] = {"epochs": body.epochs, "seed": body.seed}
    minority_values = body.minority_values
    if minority_values is None and schema is not None:
        minority_values = schema.minority.values
    if minority_values is not None:
        training["minority_values"] = minority_values
    mode = body.mode or (schema.minority.mode if schema is not None else None)
    if mode is not None:
        training["mode"] = mode
    if body.long_tail_only is not None:
        training["long_tail_only"] = body.long_tail_only
    if body.batch_size is not None:
        training["batch_size"] = body.batch_size
    return training


def _default_model_id(dataset_path: Path) -> str:
    stem = UNSAFE_NAME.sub("-", dataset_path.stem).strip("-._") or "model"
    return stem[:64]


def _public_request(body: TrainingJobCreate, dataset_path: Path, upload_dir: Path | None) -> dict[str, Any]:
    """Return the request as the job stores it: without uploaded data, with the dataset path as given."""
    stored = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    if upload_dir is not None:
        stored["upload"] = dataset_path.name
    return stored
