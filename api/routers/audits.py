"""Audit jobs of a model, and their reports as JSON or HTML.

An audit job reads the model's training data, a real holdout and optionally
synthetic rows, all under the data directory or the holdout as an upload. It
runs `run_model_audit` in a job process, as `longtail audit` does, and writes
`audit.json` and `audit.html` under the registry's `.audits/<job_id>/` folder.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth import Principal, ReadKey
from api.bodies import InvalidRequestError, parse_request_model, require_json_content_type, save_upload
from api.formats import NotAcceptableError
from api.jobs import SUCCEEDED
from api.routers.jobs import job_public
from api.routers.training import resolve_dataset_path
from api.schemas import AuditJobCreate, AuditReport, ErrorResponse, JobPublic
from api.worker import audit_report_dir
from generator.audit.report import HTML_NAME, JSON_NAME
from generator.errors import InvalidDataError, LimitExceededError, PlanError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["audits"])

HTML = "text/html"
JSON = "application/json"
# Training jobs record an uploaded file as this prefix and its name; the service deletes the upload afterwards.
UPLOAD_SOURCE_PREFIX = "upload:"

_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/AuditJobCreate"},
            "example": AuditJobCreate.model_config["json_schema_extra"]["examples"][0],
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["holdout"],
                "properties": {
                    "holdout": {"type": "string", "format": "binary", "description": "Holdout as CSV or Parquet."},
                    "request": {
                        "type": "string",
                        "description": "AuditJobCreate as a JSON string, without `holdout`.",
                        "example": '{"seed": 4, "iterations": 100}',
                    },
                },
            }
        },
    },
}


def require_audit_key(principal: ReadKey) -> Principal:
    """Require a `write` key: an audit job takes one of the `max_concurrent_jobs` slots that training jobs use."""
    if principal.scope != "write":
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"API key '{principal.name}' has scope 'read'; starting an audit job needs a 'write' key. "
            "Reading jobs and audit reports needs only 'read'",
        )
    return principal


AuditKey = Annotated[Principal, Depends(require_audit_key)]


@router.post(
    "/v1/models/{model_id}/audits",
    status_code=202,
    response_model=JobPublic,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse, "description": "No model or version of that id."},
        413: {"model": ErrorResponse, "description": "`n` exceeds `max_rows_per_request`, or the upload `max_upload_bytes`."},
        422: {
            "model": ErrorResponse,
            "description": "Invalid fields or dataset paths, holdout or synthetic columns that differ from the "
            "model's schema, or training data the service cannot read.",
        },
        429: {"model": ErrorResponse, "description": "`max_concurrent_jobs` jobs are already queued or running."},
    },
)
async def create_audit_job(model_id: str, request: Request, principal: AuditKey) -> JSONResponse:
    """Start an audit job of a model against a real holdout; fetch the report at `GET /v1/audits/{job_id}`."""
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    upload_dir: Path | None = None

    try:
        if content_type.startswith("multipart/form-data"):
            body, upload_dir, holdout_path = await _read_upload(request, settings.uploads_dir)
        else:
            require_json_content_type(content_type, also_accepted=("multipart/form-data",))
            body = _parse_body(await request.body())
            if body.holdout is None:
                raise InvalidRequestError("audit request needs 'holdout.path', or a multipart upload with a 'holdout' file")
            holdout_path = resolve_dataset_path(settings.data_dir, body.holdout.path)

        # Reading the manifest and the holdout, the SQLite transaction and the process start all block,
        # so they run off the event loop.
        job, spec = await run_in_threadpool(_submit_job, request.app, model_id, body, holdout_path, upload_dir)
    except BaseException:
        if upload_dir is not None:
            shutil.rmtree(upload_dir, ignore_errors=True)
        raise

    logger.info(
        "job %s queued by %s: audit of model %s version %s, seed %d", job["id"], principal.name, model_id,
        spec["version"], body.seed,
    )
    return JSONResponse(
        job_public(job).model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job['id']}"}
    )


@router.get(
    "/v1/audits/{job_id}",
    response_model=AuditReport,
    responses={
        200: {
            "description": "The report as JSON (default), or as a self-contained HTML page with `Accept: text/html`.",
            "content": {HTML: {"schema": {"type": "string"}}},
        },
        404: {"model": ErrorResponse, "description": "No audit job of that id, or it has not succeeded (yet)."},
        406: {"model": ErrorResponse, "description": "The `Accept` header names neither JSON nor HTML."},
    },
)
def get_audit_report(job_id: str, request: Request, principal: ReadKey) -> FileResponse:
    """Return the report of a succeeded audit job, as JSON or, with `Accept: text/html`, as HTML."""
    media_type = report_media_type(request.headers.get("accept"))
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"audit job {job_id!r} not found; list jobs with GET /v1/jobs")
    if job["kind"] != "audit":
        raise HTTPException(404, f"job {job_id} is a {job['kind']} job, not an audit; GET /v1/jobs/{job_id} returns it")
    if job["status"] != SUCCEEDED:
        raise HTTPException(404, _not_ready_message(job))

    folder = audit_report_dir(request.app.state.settings.registry_dir, job_id)
    path = folder / (HTML_NAME if media_type == HTML else JSON_NAME)
    if not path.is_file():
        logger.error("job %s succeeded but its report %s is missing", job_id, path)
        raise HTTPException(404, f"the report of audit job {job_id} is missing from the registry; start the audit again")
    return FileResponse(path, media_type=media_type)


def report_media_type(accept: str | None) -> str:
    """Return `text/html` or `application/json` for an `Accept` header; raise NotAcceptableError (406) for others."""
    if accept is None or not accept.strip():
        return JSON

    ranges = []
    for part in accept.split(","):
        media_type, *parameters = (piece.strip().lower() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((quality, media_type))

    for quality, media_type in sorted(ranges, key=lambda item: item[0], reverse=True):
        if quality <= 0:
            continue
        if media_type in (HTML, "text/*"):
            return HTML
        if media_type in (JSON, "application/*", "*/*"):
            return JSON
    raise NotAcceptableError(f"unsupported Accept header {accept!r}: audit reports are available as {JSON} and {HTML}")


def _not_ready_message(job: dict[str, Any]) -> str:
    job_id = job["id"]
    if job["status"] in ("queued", "running"):
        return f"audit job {job_id} is {job['status']}; its report exists once GET /v1/jobs/{job_id} shows 'succeeded'"
    reason = f": {job['error_message']}" if job["error_message"] else ""
    return f"audit job {job_id} ended as {job['status']}, so it has no report{reason}"


def _submit_job(app, model_id: str, body: AuditJobCreate, holdout_path: Path, upload_dir: Path | None):
    settings = app.state.settings
    spec = _job_spec(app, model_id, body, holdout_path, upload_dir)
    job = app.state.jobs.create(
        "audit", _public_request(model_id, spec["version"], body, holdout_path, upload_dir),
        max_active=settings.max_concurrent_jobs,
    )
    spec["report_dir"] = str(audit_report_dir(settings.registry_dir, job["id"]))
    app.state.runner.submit(job["id"], spec, kind="audit")
    return job, spec


def _job_spec(app, model_id: str, body: AuditJobCreate, holdout_path: Path, upload_dir: Path | None) -> dict[str, Any]:
    """Check the request before a job starts and return what the job process needs."""
    from generator.schema import Schema

    settings = app.state.settings
    if body.synthetic is not None and body.n is not None:
        raise PlanError("give either 'synthetic' or 'n', not both: 'n' sets how many rows to sample from the model")
    if body.n is not None and body.n > settings.max_rows_per_request:
        raise LimitExceededError(
            f"n={body.n} synthetic rows exceed the limit max_rows_per_request={settings.max_rows_per_request}; "
            "request fewer rows, or leave n out to sample what the utility test needs",
            limit_name="max_rows_per_request",
            limit=settings.max_rows_per_request,
            requested=body.n,
        )

    version = app.state.models.resolve_version(model_id, body.version)
    manifest = app.state.models.registry.manifest(model_id, version)
    schema = Schema.from_dict(manifest["schema"], origin=f"schema of model {model_id!r}")
    training_path, training_name = _training_path(settings.data_dir, model_id, version, manifest, body)
    synthetic_path = resolve_dataset_path(settings.data_dir, body.synthetic.path) if body.synthetic else None

    _check_columns(holdout_path, schema, "holdout")
    if synthetic_path is not None:
        _check_columns(synthetic_path, schema, "synthetic rows")

    hmac_key = settings.registry_hmac_key.get_secret_value() if settings.registry_hmac_key else None
    return {
        "model_id": model_id,
        "version": version,
        "registry_dir": str(settings.registry_dir),
        "data_dir": str(settings.data_dir),
        "hmac_key": hmac_key,
        "training_path": str(training_path),
        "training_name": training_name,
        "holdout_path": str(holdout_path),
        "synthetic_path": str(synthetic_path) if synthetic_path is not None else None,
        "n": body.n,
        "seed": body.seed,
        "options": body.model_dump(include={"max_rows", "max_privacy_rows", "sampling_strategy", "iterations"}),
        "upload_dir": str(upload_dir) if upload_dir is not None else None,
    }


def _training_path(
    data_dir: Path, model_id: str, version: int, manifest: dict[str, Any], body: AuditJobCreate
) -> tuple[Path, str]:
    """Return the path of the model's training data under the data directory and its name as the client knows it."""
    if body.training_dataset is not None:
        return resolve_dataset_path(data_dir, body.training_dataset.path), body.training_dataset.path

    source = (manifest.get("data") or {}).get("source")
    if not source or source.startswith(UPLOAD_SOURCE_PREFIX):
        kept = "an uploaded file, which the service does not keep" if source else "data whose file it does not record"
        raise InvalidDataError(
            f"model {model_id!r} version {version} was trained on {kept}; pass the same data as "
            "'training_dataset.path' under the data directory"
        )
    try:
        # Training jobs record dataset paths relative to the data directory; `longtail train` records them as given.
        return resolve_dataset_path(data_dir, source), source
    except InvalidDataError as error:
        raise InvalidDataError(
            f"the training data of model {model_id!r} version {version} cannot be read by the service ({error}); "
            "pass the same data as 'training_dataset.path' under the data directory"
        ) from None


def _check_columns(path: Path, schema, origin: str) -> None:
    """Raise the audit's SchemaError now, rather than in the job, when a table's columns differ from the schema."""
    from generator.audit._inputs import check_columns
    from generator.loading import load_table

    # NOTE: this reads the whole file, and the job reads it again; the library has no header-only reader.
    frame = load_table(path, schema.source)
    check_columns(frame, {name: spec.role.value for name, spec in schema.columns.items()}, origin)


def _parse_body(raw: bytes | str) -> AuditJobCreate:
    return parse_request_model(raw, AuditJobCreate, "audit")


async def _read_upload(request: Request, uploads_dir: Path) -> tuple[AuditJobCreate, Path, Path]:
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("holdout")
    if not isinstance(upload, UploadFile):
        raise InvalidRequestError("multipart audit request needs a file field named 'holdout' with a CSV or Parquet file")

    body = _parse_body(form.get("request") or "{}")
    if body.holdout is not None:
        raise InvalidRequestError("give the holdout either as the 'holdout' file or as 'holdout.path', not both")

    upload_dir, target = await save_upload(upload, uploads_dir, "holdout.csv")
    await form.close()
    return body, upload_dir, target


def _public_request(
    model_id: str, version: int, body: AuditJobCreate, holdout_path: Path, upload_dir: Path | None
) -> dict[str, Any]:
    """Return the request as the job stores it: the model and version audited, paths as given, no uploaded data."""
    stored = {"model_id": model_id, **body.model_dump(mode="json", exclude_none=True), "version": version}
    if upload_dir is not None:
        stored["upload"] = holdout_path.name
    return stored
