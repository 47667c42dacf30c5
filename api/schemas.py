"""Request and response bodies of the HTTP API.

This module imports pydantic only, so that `api.client` can share it without
importing torch or the library.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
ConditionValue = Union[str, int, float, bool]
UserIdPolicy = Literal["new", "real"]
USER_IDS_DESCRIPTION = "'new' mints pseudonymous user ids; 'real' draws real users with a matching profile."
# Request fields use strict types, so that JSON `true` or `"10"` is rejected instead of read as 1 or 10.
SamplingStrategy = Union[
    StrictFloat, StrictInt, Literal["minority", "not majority", "not minority", "all", "auto"], dict[str, StrictInt]
]


class DatasetRef(BaseModel):
    """A dataset file under the service's data directory."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="Path relative to the data directory (`LONGTAIL_DATA_DIR`); `..` and links out of it are rejected.",
        examples=["taobao/user_behavior_814_users.csv"],
    )


class TrainingJobCreate(BaseModel):
    """A training request: the dataset, its schema, the minority and the training settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "dataset": {"path": "taobao/user_behavior_814_users.csv"},
                    "schema": {
                        "source": {
                            "header": False,
                            "delimiter": ",",
                            "names": ["user_id", "item_id", "category_id", "behavior_type", "timestamp"],
                        },
                        "columns": {
                            "user_id": {"role": "user_key"},
                            "item_id": {"role": "item_key"},
                            "category_id": {"role": "categorical"},
                            "behavior_type": {"role": "label"},
                            "timestamp": {"role": "datetime", "format": "unix_s"},
                        },
                    },
                    "minority_values": ["buy"],
                    "epochs": 10,
                    "seed": 7,
                    "model_id": "taobao-buy",
                }
            ]
        },
    )

    dataset: DatasetRef | None = Field(
        default=None, description="Dataset by path. Leave it out when the dataset comes as a multipart upload."
    )
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="Schema as a mapping (the YAML schema file as JSON). Inferred from the data when left out.",
    )
    minority_values: list[str] | None = Field(
        default=None, description="Label values that form the minority; the schema's `minority.values` by default."
    )
    mode: Literal["minority", "conditional"] | None = Field(
        default=None,
        description="'minority' trains on the minority rows only; 'conditional' on all rows conditioned on the label.",
    )
    long_tail_only: StrictBool | None = Field(default=None, description="Train only on rows of long-tail items.")
    epochs: StrictInt = Field(default=10, gt=0, description="Training epochs; at most `LONGTAIL_MAX_EPOCHS`.")
    batch_size: StrictInt | None = Field(default=None, gt=0, description="Rows per training batch; the library default if left out.")
    seed: StrictInt = Field(default=0, ge=0, description="Seed that makes training reproducible.")
    model_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Registry id of the model; derived from the dataset file name if left out.",
    )


class AuditJobCreate(BaseModel):
    """An audit request: the real holdout, optionally the synthetic rows, and the audit settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "holdout": {"path": "online_shoppers/holdout.csv"},
                    "seed": 4,
                    "max_rows": 20000,
                    "sampling_strategy": 0.5,
                    "iterations": 100,
                }
            ]
        },
    )

    holdout: DatasetRef | None = Field(
        default=None,
        description="Real rows the model never saw, with every class, in the training file's format. Leave it out "
        "when the holdout comes as a multipart upload.",
    )
    synthetic: DatasetRef | None = Field(
        default=None,
        description="Synthetic minority rows to audit, as a sample request returns them; sampled from the model "
        "when left out.",
    )
    training_dataset: DatasetRef | None = Field(
        default=None,
        description="The model's training data; the file recorded in its manifest by default. Needed for models "
        "trained on an upload. Its fingerprint must match the manifest's.",
    )
    n: StrictInt | None = Field(
        default=None,
        gt=0,
        description="Synthetic rows to sample, at most `LONGTAIL_MAX_ROWS_PER_REQUEST`; by default three times "
        "the rows the utility test adds. Not with `synthetic`.",
    )
    seed: StrictInt = Field(
        default=0,
        ge=0,
        lt=2**32 - 2,
        description="Seed of sampling, subsampling and classifiers; the audit uses it and the next two.",
    )
    version: StrictInt | None = Field(default=None, gt=0, description="Model version; the latest if left out.")
    max_rows: StrictInt = Field(
        default=20_000,
        ge=100,
        description="Cap on the training and holdout rows of the utility test and on the minority rows compared "
        "for quality.",
    )
    max_privacy_rows: StrictInt = Field(
        default=5_000, ge=100, description="Cap on the synthetic, holdout and training rows compared by DCR."
    )
    sampling_strategy: StrictFloat = Field(
        default=0.5, gt=0, le=1, description="Minority-to-majority ratio that every rebalancing strategy reaches."
    )
    iterations: StrictInt = Field(default=100, ge=1, description="Boosting iterations of every audit classifier.")


# Trimmed from a real report (online shoppers, a 1-epoch model, max_rows=3000, iterations=20): the sections
# `quality`, `diagnostic`, `detection`, `privacy` and `utility` keep a few of their fields.
_AUDIT_REPORT_EXAMPLE: dict[str, Any] = {
    "report_version": 1,
    "created_at": "2026-12-04T21:40:12+00:00",
    "library_versions": {"sdmetrics": "0.32.0", "scikit-learn": "1.9.1", "imbalanced-learn": "0.14.2"},
    "settings": {"label": "Revenue", "minority_values": ["TRUE"], "seeds": [4, 5, 6], "max_rows": 3000,
                 "max_privacy_rows": 5000, "sampling_strategy": 0.5, "iterations": 20},
    "data": {"train_rows": 3000, "train_minority_rows": 465, "holdout_rows": 2000, "holdout_minority_rows": 317,
             "synthetic_rows": 2406, "synthetic_rows_used": {"TRUE": 802}},
    "quality": {"score": 0.525},
    "diagnostic": {"score": 0.999},
    "detection": {"rows_per_side": 465, "roc_auc": {"mean": 0.996, "std": 0.001, "values": [0.997, 0.995, 0.995]},
                  "detection_score": 0.008},
    "privacy": {"exact_copy_share": 0.0, "holdout_exact_copy_share": 0.0, "share_closer_than_holdout_p05": 0.0},
    "utility": {"primary_metric": "pr_auc", "sampling_strategy": 0.5, "holdout_rows": 2000, "seeds": [4, 5, 6]},
    "summary": {
        "primary_metric": "pr_auc",
        "headline": [
            "On PR-AUC, longtail is worse than the real data alone by 0.015 (longtail 0.756 ± 0.007 against "
            "0.771 ± 0.000).",
            "On PR-AUC, longtail and SMOTE-NC are within their spread of each other (longtail 0.756 ± 0.007 "
            "against 0.766 ± 0.008).",
        ],
    },
    "model": {
        "model_id": "shoppers-buy",
        "version": 1,
        "fingerprint": "sha256:548909b3111eafc2aaf402209c86fc44ac0e6cedd369a89a3dabc0e4b472b380",
        "synthetic_source": "model",
        "seed": 4,
    },
}


class AuditReport(BaseModel):
    """An audit report; `docs/audit-report.schema.json` is its full JSON schema."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_AUDIT_REPORT_EXAMPLE]})

    report_version: int
    created_at: str = Field(description="UTC time the audit finished, ISO 8601.")
    settings: dict[str, Any]
    data: dict[str, Any] = Field(description="Rows of every table, and the rows each section used.")
    summary: dict[str, Any] = Field(description="`headline` sentences and the strategies compared on PR-AUC.")
    model: dict[str, Any] = Field(description="`model_id`, `version`, training data `fingerprint`, `synthetic_source`, `seed`.")


class EpochLoss(BaseModel):
    epoch: int
    generator_loss: float
    discriminator_loss: float
    seconds: float


class JobProgress(BaseModel):
    """Progress of a job: epochs and losses for training, steps for audits."""

    epoch: int = Field(description="Epochs finished (training).")
    epochs: int | None = Field(description="Epochs requested (training).")
    generator_loss: float | None = None
    discriminator_loss: float | None = None
    eta_seconds: float | None = Field(default=None, description="Estimated seconds until training ends.")
    losses: list[EpochLoss] = Field(default_factory=list, description="Losses of every finished epoch.")
    stage: str | None = Field(
        default=None,
        description="Audit stage: 'loading data', 'sampling and checks', then the last finished step "
        "('checks', 'quality', 'detection', 'privacy', 'utility').",
    )
    completed: int | None = Field(default=None, description="Audit steps finished.")
    total: int | None = Field(default=None, description="Audit steps in all; known once the first step finished.")


class JobError(BaseModel):
    type: str = Field(description="Exception class, such as `SchemaError`, or `JobInterrupted` or `JobCancelled`.")
    message: str


class JobPublic(BaseModel):
    """A job and its state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "3f0c1d2e4b5a69788796a5b4c3d2e1f0",
                    "kind": "training",
                    "status": "running",
                    "created_at": 1764880000.0,
                    "started_at": 1764880001.5,
                    "finished_at": None,
                    "cancel_requested": False,
                    "progress": {"epoch": 3, "epochs": 10, "generator_loss": 0.41, "discriminator_loss": -0.12,
                                 "eta_seconds": 21.0, "losses": []},
                    "result": None,
                    "error": None,
                },
                {
                    "job_id": "7a1e2d3c4b5a69788796a5b4c3d2e1f0",
                    "kind": "audit",
                    "status": "running",
                    "created_at": 1764881200.0,
                    "started_at": 1764881201.2,
                    "finished_at": None,
                    "cancel_requested": False,
                    "progress": {"epoch": 0, "epochs": None, "losses": [], "stage": "utility", "completed": 9,
                                 "total": 21},
                    "result": None,
                    "error": None,
                },
            ]
        }
    )

    job_id: str
    kind: str
    status: JobStatus
    created_at: float = Field(description="Unix seconds.")
    started_at: float | None = None
    finished_at: float | None = None
    cancel_requested: bool = False
    progress: JobProgress
    result: dict[str, Any] | None = Field(
        default=None,
        description="Training: `model_id` and `version` of the registered model. Audit: `model_id`, `version`, "
        "`report` (the path of the report) and `headline` (the report's summary sentences).",
    )
    error: JobError | None = None


class ModelPublic(BaseModel):
    """A model in the registry with its versions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_id": "taobao-buy",
                    "versions": [1, 2],
                    "latest_version": 2,
                    "summary": {"version": 2, "created_at": "2026-12-04T20:50:00+00:00", "label": "behavior_type",
                                "minority": ["buy"], "mode": "minority", "training_rows": 1575, "epochs": 30,
                                "overall_score": 0.70},
                    "manifest": None,
                }
            ]
        }
    )

    model_id: str
    versions: list[int]
    latest_version: int | None = None
    summary: dict[str, Any] | None = Field(
        default=None, description="Version, creation time, label, minority, epochs and overall fidelity score."
    )
    manifest: dict[str, Any] | None = Field(
        default=None, description="Full manifest of the requested version; only `GET /v1/models/{model_id}` has it."
    )


class ModelList(BaseModel):
    """Every model in the registry."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"models": []}]})

    models: list[ModelPublic]


class SampleRequest(BaseModel):
    """How many rows, under which conditions."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"count": 1000, "conditions": {"behavior_type": "buy", "item_tier": "tail"}, "seed": 3}]
        },
    )

    count: StrictInt = Field(gt=0, description="Rows to return; at most `LONGTAIL_MAX_ROWS_PER_REQUEST`.")
    conditions: dict[str, ConditionValue] | None = Field(
        default=None, description="Column values every returned row has; see the model's `condition_columns`."
    )
    seed: StrictInt = Field(default=0, ge=0, lt=2**32, description="Seed that makes the batch reproducible.")
    user_ids: UserIdPolicy = Field(default="new", description=USER_IDS_DESCRIPTION)
    version: StrictInt | None = Field(default=None, gt=0, description="Model version; the latest if left out.")


class AugmentationRequest(BaseModel):
    """The balance wanted, in imbalanced-learn's `sampling_strategy` terms."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sampling_strategy": 0.25, "seed": 3},
                {"sampling_strategy": "minority", "class_counts": {"pv": 9000, "buy": 200}, "seed": 3},
            ]
        },
    )

    sampling_strategy: SamplingStrategy = Field(
        description="A float ratio of each minority class to the majority, 'minority', 'not majority', 'all', "
        "or target counts per class."
    )
    class_counts: dict[str, StrictInt] | None = Field(
        default=None, description="Class counts of the caller's training set; the training data's counts if left out."
    )
    conditions: dict[str, ConditionValue] | None = Field(
        default=None, description="Column values every generated row has, besides its class."
    )
    seed: StrictInt = Field(default=0, ge=0, lt=2**32, description="Seed that makes the batch reproducible.")
    user_ids: UserIdPolicy = Field(default="new", description=USER_IDS_DESCRIPTION)
    version: StrictInt | None = Field(default=None, gt=0, description="Model version; the latest if left out.")


_FIDELITY_EXAMPLE = {
    "scores": {"column_shapes": 0.90, "column_pair_trends": 0.50, "overall": 0.70},
    "privacy": {"exact_copy_share": 0.0},
    "rows": 2,
    "sampled_from": 2,
}


class SampleBatch(BaseModel):
    """A JSON batch of rows with its fidelity statistics."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "9b2f6c0e5d4a4f1e8c7b6a5d4e3f2a1b",
                    "model_id": "taobao-buy",
                    "version": 1,
                    "row_count": 2,
                    "match_rate": 1.0,
                    "plan": None,
                    "fidelity": _FIDELITY_EXAMPLE,
                    "rows": [
                        {"user_id": "u-3f9a", "item_id": "4749841", "category_id": "801221",
                         "behavior_type": "buy", "timestamp": 1511971841},
                        {"user_id": "u-81c2", "item_id": "4263844", "category_id": "2355072",
                         "behavior_type": "buy", "timestamp": 1512134541},
                    ],
                }
            ]
        }
    )

    batch_id: str = Field(description="Id of the batch; `GET /v1/batches/{batch_id}` returns its statistics again.")
    model_id: str
    version: int | None = None
    row_count: int
    match_rate: float | None = Field(default=None, description="Share of generated rows that met the conditions.")
    plan: dict[str, Any] | None = Field(default=None, description="Balancing plan (augmentations only).")
    fidelity: dict[str, Any]
    rows: list[dict[str, Any]]


class BatchStatistics(BaseModel):
    """The plan and fidelity of a batch, for callers that received rows as CSV, Parquet or Arrow."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "9b2f6c0e5d4a4f1e8c7b6a5d4e3f2a1b",
                    "model_id": "taobao-buy",
                    "version": 1,
                    "row_count": 17174,
                    "created_at": 1764881000.0,
                    "match_rate": None,
                    "plan": {"sampling_strategy": 0.25, "class_counts": {"buy": 1749, "pv": 75693},
                             "target_counts": {"buy": 18923, "pv": 75693}, "n_samples": {"buy": 17174},
                             "not_generated": {}, "total": 17174},
                    "fidelity": _FIDELITY_EXAMPLE,
                }
            ]
        }
    )

    batch_id: str
    model_id: str
    version: int | None = None
    row_count: int
    created_at: float
    match_rate: float | None = None
    plan: dict[str, Any] | None = None
    fidelity: dict[str, Any]


class ErrorBody(BaseModel):
    type: str = Field(description="Error class, such as `ConditionError` or `LimitExceededError`.")
    message: str
    request_id: str | None = None
    limit: dict[str, Any] | None = Field(default=None, description="`name`, `limit` and `requested` of a limit error.")


class ErrorResponse(BaseModel):
    """The body of every error status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "type": "LimitExceededError",
                        "message": "100001 rows exceed the limit max_rows_per_request=100000; split the request "
                        "into several calls with different seeds",
                        "request_id": "4c1d9e0f7a2b3c4d",
                        "limit": {"name": "max_rows_per_request", "limit": 100000, "requested": 100001},
                    }
                }
            ]
        }
    )

    error: ErrorBody


class Health(BaseModel):
    """Liveness of the service."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "version": "0.1.0"}]})

    status: Literal["ok"] = "ok"
    version: str
