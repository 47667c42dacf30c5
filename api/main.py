"""The FastAPI app: `create_app(settings)` for tests and embedding, `app` for `uvicorn api.main:app`."""

from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.auth import ReadKey, generate_key, hash_key
from api.errors import install_error_handlers
from api.jobs import JobStore
from api.metrics import MetricsMiddleware, ServiceMetrics
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.routers import audits, batches, health, jobs, models, training
from api.service import ModelService
from api.settings import ApiKeyConfig, Settings
from api.worker import JobRunner

logger = logging.getLogger(__name__)

DESCRIPTION = """
Synthetic rows of the minority of interaction logs, from conditional tabular GANs, with fidelity statistics.

Every route except `/healthz` needs an API key: `Authorization: Bearer <key>`, this OpenAPI document at
`GET /openapi.json` included. Keys with scope `read` may list
models, sample, and read jobs and audit reports; keys with scope `write` may also start and cancel training and
audit jobs.

An audit job (`POST /v1/models/{model_id}/audits`) compares a model's synthetic rows with a real holdout, as
`longtail audit` does; its report is at `GET /v1/audits/{job_id}`, as JSON or, with `Accept: text/html`, as HTML.

Rows come back as JSON by default, or as CSV (`text/csv`), Parquet (`application/vnd.apache.parquet`) or Arrow IPC
stream (`application/vnd.apache.arrow.stream`) by `Accept`. The fidelity of every batch is in the JSON body, in
the `X-Longtail-Fidelity` header, in Parquet and Arrow schema metadata under `longtail.batch`, and at
`GET /v1/batches/{batch_id}`.
"""


def _version() -> str:
    try:
        return version("longtail")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service app; `settings` default to the `LONGTAIL_*` environment."""
    settings = settings or Settings()
    store = JobStore(settings.job_database)
    metrics = ServiceMetrics(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = JobRunner(store)
        hmac_key = settings.registry_hmac_key.get_secret_value().encode("utf-8") if settings.registry_hmac_key else None
        app.state.runner = runner
        app.state.models = ModelService(settings.registry_dir, hmac_key=hmac_key, cache_size=settings.model_cache_size)
        runner.start()
        logger.info(
            "service started: registry %s, job store %s, data directory %s, %d API key(s)",
            settings.registry_dir,
            settings.job_database,
            settings.data_dir,
            len(settings.api_keys),
        )
        try:
            yield
        finally:
            runner.stop()
            logger.info("service stopped")

    # FastAPI serves its own /openapi.json, /docs and /redoc without a key. The document is served below behind
    # a key instead, and the two browser pages are left out because a browser cannot send a bearer token.
    app = FastAPI(
        title="longtail",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.jobs = store
    app.state.metrics = metrics

    for router in (health.router, training.router, jobs.router, models.router, audits.router, batches.router):
        app.include_router(router)
    install_error_handlers(app)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(principal: ReadKey) -> JSONResponse:
        """Return the OpenAPI document; any valid key may read it."""
        return JSONResponse(app.openapi())

    # Starlette wraps middleware in reverse order of addition: the request id is set first.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    return app


def settings_with_dev_key(settings: Settings, stream=None) -> tuple[Settings, str | None]:
    """Return settings with a generated `write` key when none is configured, and print that key once."""
    if settings.api_keys:
        return settings, None

    key = generate_key()
    stream = stream or sys.stderr
    print(
        "No API keys configured (LONGTAIL_API_KEYS); generated a development key for this run only:\n"
        f"  {key}\nSend it as 'Authorization: Bearer <key>'. It is not stored and is not valid after a restart.",
        file=stream,
        flush=True,
    )
    keys = [ApiKeyConfig(hash=hash_key(key), scope="write", name="development")]
    return settings.model_copy(update={"api_keys": keys}), key


def serve(settings: Settings | None = None, *, host: str | None = None, port: int | None = None) -> None:
    """Run the service with uvicorn until interrupted; the entry point of `longtail serve`."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings, _ = settings_with_dev_key(settings or Settings())
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.host, port=settings.port if port is None else port, log_level="info")


def __getattr__(name: str):
    # `uvicorn api.main:app` builds the app from the environment on first access, not at import.
    if name == "app":
        return create_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
