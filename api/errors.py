"""Map exceptions to HTTP responses in one place.

Every error body has the form `{"error": {"type", "message", "request_id"}}`,
plus `limit` for limit errors. Input errors of the library keep their message;
other failures return a generic message and log the traceback under the
request id. Every message is sent without server paths (see `api.redaction`);
the log keeps the full message.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.formats import NotAcceptableError
from api.redaction import redact_paths, settings_roots
from generator.errors import LimitExceededError, LongtailError, LongtailInputError, ModelNotFoundError

logger = logging.getLogger(__name__)

# Limits that a later request may pass once running work finishes: these get 429 instead of 413.
RATE_LIMITS = frozenset({"max_concurrent_jobs"})


def request_id_of(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def error_response(
    request: Request, status_code: int, error_type: str, message: str, *, headers: dict | None = None, **extra
) -> JSONResponse:
    message = _client_message(request, message)
    body = {"type": error_type, "message": message, "request_id": request_id_of(request), **extra}
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


def _client_message(request: Request, message: str) -> str:
    settings = getattr(request.app.state, "settings", None)
    return redact_paths(message, settings_roots(settings) if settings is not None else {})


def _status_of_input_error(error: LongtailInputError) -> int:
    if isinstance(error, ModelNotFoundError):
        return 404
    if isinstance(error, LimitExceededError):
        return 429 if error.limit_name in RATE_LIMITS else 413
    return 422


async def _handle_input_error(request: Request, error: LongtailInputError) -> JSONResponse:
    status_code = _status_of_input_error(error)
    logger.info("request %s rejected with %s %s: %s", request_id_of(request), status_code, type(error).__name__, error)

    if isinstance(error, LimitExceededError):
        limit = {"name": error.limit_name, "limit": error.limit, "requested": error.requested}
        headers = {"Retry-After": "30"} if status_code == 429 else None
        return error_response(request, status_code, type(error).__name__, str(error), headers=headers, limit=limit)
    return error_response(request, status_code, type(error).__name__, str(error))


async def _handle_library_error(request: Request, error: LongtailError) -> JSONResponse:
    request_id = request_id_of(request)
    logger.error("request %s failed with %s", request_id, type(error).__name__, exc_info=error)
    return error_response(
        request, 500, type(error).__name__, f"{error} (request {request_id}; the service log has the details)"
    )


async def _handle_http_error(request: Request, error: HTTPException) -> JSONResponse:
    logger.info("request %s rejected with %s: %s", request_id_of(request), error.status_code, error.detail)
    error_type = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        409: "Conflict",
        415: "UnsupportedMediaType",
    }
    return error_response(
        request,
        error.status_code,
        error_type.get(error.status_code, "HTTPError"),
        str(error.detail),
        headers=getattr(error, "headers", None),
    )


async def _handle_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = []
    for issue in error.errors():
        location = ".".join(str(part) for part in issue.get("loc", ()))
        if issue.get("type") == "json_invalid":
            problems.append(f"malformed JSON body: {issue.get('ctx', {}).get('error', issue.get('msg'))}")
        else:
            problems.append(f"{location}: {issue.get('msg')}")
    return error_response(request, 422, "RequestValidationError", "invalid request: " + "; ".join(problems))


async def _handle_not_acceptable(request: Request, error: NotAcceptableError) -> JSONResponse:
    return error_response(request, 406, "NotAcceptable", str(error))


async def _handle_unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    logger.error("request %s failed with %s", request_id, type(error).__name__, exc_info=error)
    return error_response(
        request, 500, "InternalError", f"internal error (request {request_id}; the service log has the details)"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of every exception the routes may raise."""
    app.add_exception_handler(LongtailInputError, _handle_input_error)
    app.add_exception_handler(LongtailError, _handle_library_error)
    app.add_exception_handler(HTTPException, _handle_http_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(NotAcceptableError, _handle_not_acceptable)
    app.add_exception_handler(Exception, _handle_unexpected)
