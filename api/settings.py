"""Service settings, read from `LONGTAIL_*` environment variables.

There is no default API key. `longtail serve` and `python -m api.demo` generate
a development key and print it once when `LONGTAIL_API_KEYS` is empty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KEY_HASH_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


class ApiKeyConfig(BaseModel):
    """One configured API key: the SHA-256 hash of the key and what it may do."""

    hash: str = Field(description="`sha256:` followed by the 64 hex digits of the SHA-256 of the key.")
    scope: Literal["read", "write"] = Field(
        default="read",
        description="`read` may list models and sample; `write` may also start and cancel training jobs.",
    )
    name: str = Field(default="", description="Label shown in logs instead of the key.")

    @field_validator("hash")
    @classmethod
    def _check_hash(cls, value: str) -> str:
        value = value.strip().lower()
        if not KEY_HASH_PATTERN.match(value):
            raise ValueError(
                "invalid API key hash: expected 'sha256:' and 64 hex digits; "
                "compute it with `python -m api.auth hash KEY`"
            )
        if value == "sha256:" + "0" * 64:
            raise ValueError("API key hash is a placeholder of zeros; configure the hash of a real key")
        return value


class Settings(BaseSettings):
    """Configuration of the HTTP service."""

    model_config = SettingsConfigDict(env_prefix="LONGTAIL_", extra="ignore")

    registry_dir: Path = Field(default=Path("models"), description="Root folder of the model registry.")
    database_path: Path | None = Field(
        default=None,
        description="SQLite file of the job store; defaults to `jobs.sqlite3` inside the registry folder.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Folder that training jobs may read datasets from by path; paths outside it are rejected.",
    )
    api_keys: list[ApiKeyConfig] = Field(
        default_factory=list,
        description='JSON list such as `[{"hash": "sha256:<hex>", "scope": "write", "name": "ci"}]`.',
    )
    registry_hmac_key: SecretStr | None = Field(
        default=None, description="Secret that signs model artifacts in the registry, if the registry uses one."
    )
    max_rows_per_request: int = Field(default=100_000, gt=0, description="Rows one sample or augmentation may return.")
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0, description="Bytes of one request body.")
    max_concurrent_jobs: int = Field(default=1, gt=0, description="Training jobs queued or running at once.")
    max_epochs: int = Field(default=1000, gt=0, description="Epochs one training job may request.")
    stream_chunk_rows: int = Field(default=10_000, gt=0, description="Rows encoded per chunk of a response body.")
    model_cache_size: int = Field(default=4, gt=0, description="Loaded models kept in memory.")
    host: str = Field(default="127.0.0.1", description="Address `longtail serve` binds to.")
    port: int = Field(default=8000, ge=0, lt=65536, description="Port `longtail serve` binds to.")

    @model_validator(mode="after")
    def _default_database_path(self) -> Settings:
        if self.database_path is None:
            self.database_path = self.registry_dir / "jobs.sqlite3"
        return self

    @property
    def job_database(self) -> Path:
        """Path of the SQLite job store."""
        return self.database_path if self.database_path is not None else self.registry_dir / "jobs.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        """Folder where uploaded training files wait for their job, beside the job store."""
        return self.job_database.parent / "uploads"
