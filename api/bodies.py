"""Request bodies: the Content-Type check and JSON parsing shared by every route that reads a JSON body.

A JSON route accepts `application/json` or any `application/*+json` type and
rejects other content types with 415. A body that is not valid UTF-8 JSON, or
that nests too deeply to parse, is rejected with 422 and the reason.
"""

from __future__ import annotations

import email.message
import json
import re
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Coroutine, TypeVar

from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from generator.errors import InvalidDataError, LongtailInputError

JSON_MEDIA_TYPE = "application/json"


class InvalidRequestError(LongtailInputError):
    """The request body is malformed or fails validation."""


class MalformedJsonError(ValueError):
    """A body that is not JSON; the message is the reason, without the body."""


def is_json_media_type(content_type: str) -> bool:
    """Return True for `application/json` and `application/*+json`, with or without parameters."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def require_json_content_type(content_type: str | None, *, also_accepted: tuple[str, ...] = ()) -> None:
    """Raise HTTPException 415 unless `content_type` is a JSON media type or starts with one of `also_accepted`."""
    if content_type and (is_json_media_type(content_type) or content_type.lower().startswith(also_accepted)):
        return
    expected = " or ".join((JSON_MEDIA_TYPE, *also_accepted))
    received = repr(content_type) if content_type else "missing"
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"unsupported Content-Type {received}: send the body as {expected}",
    )


def parse_json(raw: bytes | str) -> Any:
    """Parse a JSON document; raise MalformedJsonError with the reason for any body that is not JSON."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise MalformedJsonError(str(error)) from None
    except UnicodeDecodeError as error:
        raise MalformedJsonError(f"the body is not valid UTF-8 ({error.reason} at byte {error.start})") from None
    except RecursionError:
        raise MalformedJsonError("the body nests arrays or objects too deeply to parse") from None


class JsonBodyRoute(APIRoute):
    """A route whose non-empty body must be JSON, checked before FastAPI validates it.

    Without this check FastAPI responds to a body that is not UTF-8, or that nests too deeply, with
    400 "There was an error parsing the body".
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def check_and_handle(request: Request) -> Response:
            # Starlette caches the body on the request, so the FastAPI handler reads the same bytes again.
            body = await request.body()
            if body:
                require_json_content_type(request.headers.get("content-type"))
                try:
                    parse_json(body)
                except MalformedJsonError as error:
                    issue = {"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {},
                             "ctx": {"error": str(error)}}
                    raise RequestValidationError([issue]) from None
            return await handle(request)

        return check_and_handle


UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".data", ".parquet", ".pq")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
BodyModel = TypeVar("BodyModel", bound=BaseModel)


def describe_validation_error(error: ValidationError) -> str:
    """Return each invalid field of a pydantic error as 'field.path: message', joined by '; '."""
    return "; ".join(f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}" for issue in error.errors())


def parse_request_model(raw: bytes | str, model: type[BodyModel], kind: str) -> BodyModel:
    """Parse a JSON request body into `model`, raising InvalidRequestError that names each invalid field."""
    try:
        document = parse_json(raw)
    except MalformedJsonError as error:
        raise InvalidRequestError(f"malformed JSON body: {error}") from None
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise InvalidRequestError(f"invalid {kind} request: {describe_validation_error(error)}") from None


async def save_upload(upload: UploadFile, uploads_dir: Path, default_name: str) -> tuple[Path, Path]:
    """Write an uploaded data file into a new folder under `uploads_dir`; return the folder and the file."""
    name = UNSAFE_NAME.sub("_", PurePosixPath(upload.filename or default_name).name).lstrip(".") or default_name
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise InvalidDataError(f"uploaded file {name!r} has an unsupported suffix: expected one of {', '.join(UPLOAD_SUFFIXES)}")

    upload_dir = uploads_dir / uuid.uuid4().hex
    upload_dir.mkdir(parents=True)
    target = upload_dir / name
    with target.open("wb") as handle:
        while chunk := await upload.read(1024 * 1024):
            handle.write(chunk)
    return upload_dir, target
