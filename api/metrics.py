"""Prometheus metrics: requests, latencies, rows generated and jobs by status.

Each app gets its own `CollectorRegistry`, so that several apps in one process
(tests) do not share counters. Request metrics are labelled by route template,
not by raw path, so that ids in paths do not create new series.
"""

from __future__ import annotations

import time
from typing import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.jobs import JobStore


class _JobCollector(Collector):
    """Reads the job counts from the job store at scrape time."""

    def __init__(self, store: JobStore):
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("longtail_jobs", "Jobs in the job store by status.", labels=["status"])
        for status, count in self.store.count_by_status().items():
            family.add_metric([status], count)
        yield family


class ServiceMetrics:
    """The metrics of one app."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, store: JobStore):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "longtail_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "longtail_http_request_duration_seconds",
            "Seconds from request start to the last byte of the response, by method and route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.rows_generated = Counter(
            "longtail_rows_generated",
            "Synthetic rows returned, by model and endpoint kind (samples or augmentations).",
            ["model_id", "kind"],
            registry=self.registry,
        )
        self.registry.register(_JobCollector(store))

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware that counts requests and measures latency until the last body chunk is sent."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status_code = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status_code)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - started)
