"""Settings: the LONGTAIL_ environment, key hashes and defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.auth import hash_key
from api.settings import ApiKeyConfig, Settings


def test_settings_read_longtail_environment(monkeypatch, tmp_path):
    keys = [{"hash": hash_key("secret-one"), "scope": "write", "name": "ci"}]
    monkeypatch.setenv("LONGTAIL_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.setenv("LONGTAIL_API_KEYS", json.dumps(keys))
    monkeypatch.setenv("LONGTAIL_MAX_ROWS_PER_REQUEST", "250")
    monkeypatch.setenv("LONGTAIL_MAX_CONCURRENT_JOBS", "3")

    settings = Settings()

    assert settings.registry_dir == tmp_path / "registry"
    assert settings.job_database == tmp_path / "registry" / "jobs.sqlite3"
    assert settings.api_keys[0].scope == "write"
    assert settings.api_keys[0].name == "ci"
    assert settings.max_rows_per_request == 250
    assert settings.max_concurrent_jobs == 3


def test_settings_defaults_bind_loopback_without_keys(monkeypatch):
    for name in ("LONGTAIL_API_KEYS", "LONGTAIL_HOST", "LONGTAIL_PORT"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings()

    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.api_keys == []
    assert settings.registry_dir == Path("models")


def test_settings_database_path_overrides_default(tmp_path):
    settings = Settings(registry_dir=tmp_path / "models", database_path=tmp_path / "jobs.db")

    assert settings.job_database == tmp_path / "jobs.db"
    assert settings.uploads_dir == tmp_path / "uploads"


@pytest.mark.parametrize(
    "value",
    ["secret", "sha256:abc", "md5:" + "a" * 32, "sha256:" + "g" * 64],
)
def test_api_key_config_rejects_malformed_hash(value):
    with pytest.raises(ValidationError, match="invalid API key hash"):
        ApiKeyConfig(hash=value)


def test_api_key_config_rejects_zero_placeholder():
    with pytest.raises(ValidationError, match="placeholder"):
        ApiKeyConfig(hash="sha256:" + "0" * 64)


def test_api_key_config_normalises_case():
    config = ApiKeyConfig(hash=hash_key("k").upper().replace("SHA256", "sha256"))

    assert config.hash == hash_key("k")
    assert config.scope == "read"


def test_settings_reject_zero_row_limit():
    with pytest.raises(ValidationError, match="max_rows_per_request"):
        Settings(max_rows_per_request=0)
