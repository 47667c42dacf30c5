"""ASGI middleware: request ids, request logging and the request body limit."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from generator.errors import LimitExceededError

logger = logging.getLogger(__name__)


class RequestIdMiddleware:
    """Give every request an id, return it as `X-Request-Id` and log the request with it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("ascii"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "request %s %s %s -> %s in %.3f s",
                request_id,
                scope["method"],
                scope["path"],
                status_code,
                time.perf_counter() - started,
            )


class BodyLimitMiddleware:
    """Reject request bodies larger than `max_bytes` with 413, by `Content-Length` or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, send, declared)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._error(received)
            return message

        await self.app(scope, counting_receive, send)

    def _error(self, requested: int) -> LimitExceededError:
        return LimitExceededError(
            f"request body of at least {requested} bytes exceeds the limit max_upload_bytes={self.max_bytes}; "
            "send a smaller file or put the dataset under the data directory and train by path",
            limit_name="max_upload_bytes",
            limit=self.max_bytes,
            requested=requested,
        )

    async def _reject(self, scope: Scope, send: Send, declared: int) -> None:
        error = self._error(declared)
        request_id = scope.get("state", {}).get("request_id")
        logger.info("request %s rejected with 413: %s", request_id, error)
        body = {
            "error": {
                "type": "LimitExceededError",
                "message": str(error),
                "request_id": request_id,
                "limit": {"name": error.limit_name, "limit": error.limit, "requested": error.requested},
            }
        }
        payload = json.dumps(body).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
