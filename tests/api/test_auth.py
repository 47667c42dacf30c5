"""API keys: hashing and verification."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from api.auth import generate_key, hash_key, verify_key
from api.settings import ApiKeyConfig
from tests.api.conftest import ROOT


def test_hash_key_is_sha256_hex():
    assert hash_key("abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    assert hash_key("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_verify_key_returns_scope_of_matching_hash():
    configured = [
        ApiKeyConfig(hash=hash_key("reader"), scope="read", name="dashboards"),
        ApiKeyConfig(hash=hash_key("writer"), scope="write"),
    ]

    reader = verify_key("reader", configured)
    writer = verify_key("writer", configured)

    assert reader is not None
    assert reader.scope == "read"
    assert reader.name == "dashboards"
    assert writer is not None
    assert writer.scope == "write"
    assert writer.name == "key-1"


def test_verify_key_rejects_unknown_and_prefix():
    configured = [ApiKeyConfig(hash=hash_key("writer"), scope="write")]

    assert verify_key("write", configured) is None
    assert verify_key("writer ", configured) is None
    assert verify_key("", configured) is None
    assert verify_key("writer", []) is None


def test_generate_key_is_random_and_prefixed():
    first, second = generate_key(), generate_key()

    assert first.startswith("lt_dev_")
    assert first != second
    assert len(first) >= len("lt_dev_") + 43


def test_auth_module_prints_hash():
    output = subprocess.run(
        [sys.executable, "-m", "api.auth", "hash", "abc"], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == hash_key("abc")
