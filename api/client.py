"""A typed Python client of the longtail HTTP API, on httpx.

It imports neither torch nor the `generator` library, so pipelines that only
call the service stay light.

    client = LongtailClient("http://127.0.0.1:8000", api_key="...")
    job = client.create_training_job({"path": "taobao/user_behavior_814_users.csv"}, epochs=10)
    job = client.wait_for_job(job.job_id)
    batch = client.augment(job.result["model_id"], sampling_strategy=0.25, seed=3)
    batch.rows, batch.plan, batch.fidelity
    audit = client.wait_for_job(client.create_audit_job(job.result["model_id"], "taobao/holdout.csv").job_id)
    report = client.get_audit_report(audit.job_id)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import httpx
import pandas as pd

from api import formats
from api.schemas import JobPublic, ModelList, ModelPublic

RowFormat = Literal["json", "csv", "parquet", "arrow"]
_MEDIA_TYPES: dict[str, str] = {
    "json": formats.JSON,
    "csv": formats.CSV,
    "parquet": formats.PARQUET,
    "arrow": formats.ARROW,
}
FINAL_JOB_STATUSES = ("succeeded", "failed", "cancelled", "interrupted")


class LongtailAPIError(Exception):
    """The service returned an error status."""

    def __init__(self, status_code: int, error_type: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status_code} {error_type}: {message}")
        self.status_code = status_code
        self.error_type = error_type
        self.message = message
        self.body = body or {}


class JobFailedError(Exception):
    """A job that the client waited for ended in a status other than `succeeded`."""

    def __init__(self, job: JobPublic):
        detail = f": {job.error.type}: {job.error.message}" if job.error else ""
        super().__init__(f"job {job.job_id} ended as {job.status}{detail}")
        self.job = job


@dataclass
class Batch:
    """Rows returned by a sample or augmentation request, with their statistics."""

    batch_id: str
    model_id: str
    version: int | None
    rows: pd.DataFrame
    fidelity: dict[str, Any]
    plan: dict[str, Any] | None
    match_rate: float | None
    media_type: str


def _counts(counts: Mapping[Any, Any]) -> dict[str, int]:
    """Convert class counts with numpy keys or values, as imbalanced-learn computes them, to JSON types."""
    return {str(label): int(count) for label, count in counts.items()}


class LongtailClient:
    """Client of one longtail service; use it as a context manager or call `close()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> LongtailClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        """Return the `/healthz` body."""
        return self._request("GET", "/healthz").json()

    def create_training_job(
        self,
        dataset: str | Mapping[str, Any],
        *,
        schema: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> JobPublic:
        """Start a training job on a dataset path under the service's data directory.

        `options` are the other fields of the request: minority_values, mode, long_tail_only, epochs,
        batch_size, seed, model_id.
        """
        body: dict[str, Any] = {"dataset": {"path": dataset} if isinstance(dataset, str) else dict(dataset), **options}
        if schema is not None:
            body["schema"] = dict(schema)
        return JobPublic.model_validate(self._request("POST", "/v1/training-jobs", json=body).json())

    def upload_training_job(
        self, path: str | Path, *, schema: Mapping[str, Any] | None = None, **options: Any
    ) -> JobPublic:
        """Start a training job on a local CSV or Parquet file, sent as a multipart upload."""
        path = Path(path)
        fields: dict[str, Any] = dict(options)
        if schema is not None:
            fields["schema"] = dict(schema)
        with path.open("rb") as handle:
            response = self._request(
                "POST",
                "/v1/training-jobs",
                files={"file": (path.name, handle, "application/octet-stream")},
                data={"request": json.dumps(fields)},
            )
        return JobPublic.model_validate(response.json())

    def create_audit_job(
        self,
        model_id: str,
        holdout: str | Mapping[str, Any] | None = None,
        *,
        holdout_file: str | Path | None = None,
        **options: Any,
    ) -> JobPublic:
        """Start an audit job of a model against a holdout on the service (`holdout`) or a local file (`holdout_file`).

        `options` are the other fields of the request: synthetic, training_dataset, n, seed, version, max_rows,
        max_privacy_rows, sampling_strategy, iterations. Dataset fields take a path under the service's data
        directory.
        """
        if holdout is not None and holdout_file is not None:
            raise ValueError("pass either holdout (a path on the service) or holdout_file (a local file), not both")
        body: dict[str, Any] = dict(options)
        for name in ("synthetic", "training_dataset"):
            if isinstance(body.get(name), str):
                body[name] = {"path": body[name]}
        path = f"/v1/models/{model_id}/audits"

        if holdout is not None:
            body["holdout"] = {"path": holdout} if isinstance(holdout, str) else dict(holdout)
            return JobPublic.model_validate(self._request("POST", path, json=body).json())
        if holdout_file is None:
            raise ValueError("pass holdout (a path on the service) or holdout_file (a local file)")

        local = Path(holdout_file)
        with local.open("rb") as handle:
            response = self._request(
                "POST", path, files={"holdout": (local.name, handle, "application/octet-stream")},
                data={"request": json.dumps(body)},
            )
        return JobPublic.model_validate(response.json())

    def get_audit_report(self, job_id: str, *, format: Literal["json", "html"] = "json") -> dict[str, Any] | str:
        """Return the report of a succeeded audit job: a dict for 'json', the HTML page as text for 'html'."""
        if format not in ("json", "html"):
            raise ValueError(f"invalid format {format!r}: expected 'json' or 'html'")
        accept = "text/html" if format == "html" else formats.JSON
        response = self._request("GET", f"/v1/audits/{job_id}", headers={"Accept": accept})
        return response.text if format == "html" else response.json()

    def get_job(self, job_id: str) -> JobPublic:
        return JobPublic.model_validate(self._request("GET", f"/v1/jobs/{job_id}").json())

    def cancel_job(self, job_id: str) -> JobPublic:
        """Ask the service to cancel a job; it may run on for one training batch or one audit step."""
        return JobPublic.model_validate(self._request("DELETE", f"/v1/jobs/{job_id}").json())

    def wait_for_job(self, job_id: str, *, timeout: float = 3600.0, poll_seconds: float = 1.0) -> JobPublic:
        """Poll a job until it finishes; raise JobFailedError unless it succeeded, TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.status in FINAL_JOB_STATUSES:
                if job.status != "succeeded":
                    raise JobFailedError(job)
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s (epoch {job.progress.epoch})")
            time.sleep(poll_seconds)

    def list_models(self) -> ModelList:
        return ModelList.model_validate(self._request("GET", "/v1/models").json())

    def get_model(self, model_id: str, version: int | None = None) -> ModelPublic:
        params = {"version": version} if version is not None else None
        return ModelPublic.model_validate(self._request("GET", f"/v1/models/{model_id}", params=params).json())

    def sample(
        self,
        model_id: str,
        count: int,
        *,
        conditions: Mapping[str, Any] | None = None,
        seed: int = 0,
        user_ids: Literal["new", "real"] = "new",
        version: int | None = None,
        format: RowFormat = "json",
    ) -> Batch:
        """Sample `count` rows that satisfy every condition."""
        body = {"count": count, "conditions": dict(conditions) if conditions else None, "seed": seed,
                "user_ids": user_ids, "version": version}
        return self._rows(f"/v1/models/{model_id}/samples", body, format)

    def augment(
        self,
        model_id: str,
        sampling_strategy: float | str | Mapping[str, int],
        *,
        class_counts: Mapping[str, int] | None = None,
        conditions: Mapping[str, Any] | None = None,
        seed: int = 0,
        user_ids: Literal["new", "real"] = "new",
        version: int | None = None,
        format: RowFormat = "json",
    ) -> Batch:
        """Generate the rows of a balancing plan; the batch carries the plan."""
        body = {
            "sampling_strategy": _counts(sampling_strategy) if isinstance(sampling_strategy, Mapping) else sampling_strategy,
            "class_counts": _counts(class_counts) if class_counts is not None else None,
            "conditions": dict(conditions) if conditions else None,
            "seed": seed,
            "user_ids": user_ids,
            "version": version,
        }
        return self._rows(f"/v1/models/{model_id}/augmentations", body, format)

    def batch_statistics(self, batch_id: str) -> dict[str, Any]:
        """Return the plan and fidelity of a recent batch."""
        return self._request("GET", f"/v1/batches/{batch_id}").json()

    def _rows(self, path: str, body: dict[str, Any], format: RowFormat) -> Batch:
        if format not in _MEDIA_TYPES:
            raise ValueError(f"invalid format {format!r}: expected one of {', '.join(_MEDIA_TYPES)}")
        media_type = _MEDIA_TYPES[format]
        payload = {key: value for key, value in body.items() if value is not None}

        response = self._request("POST", path, json=payload, headers={"Accept": media_type})
        rows, statistics = formats.decode(response.content, media_type)
        if statistics is None:
            statistics = self.batch_statistics(response.headers["X-Longtail-Batch-Id"])
        return Batch(
            batch_id=statistics["batch_id"],
            model_id=statistics["model_id"],
            version=statistics.get("version"),
            rows=rows,
            fidelity=statistics["fidelity"],
            plan=statistics.get("plan"),
            match_rate=statistics.get("match_rate"),
            media_type=media_type,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.is_success:
            return response

        try:
            body = response.json()
        except ValueError:
            raise LongtailAPIError(response.status_code, "HTTPError", response.text[:500]) from None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            raise LongtailAPIError(response.status_code, "HTTPError", response.text[:500])
        raise LongtailAPIError(response.status_code, error.get("type", "HTTPError"), error.get("message", ""), body)
