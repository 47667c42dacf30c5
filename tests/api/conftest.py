"""Fixtures of the API tests: keys, settings, an in-process app, a trained model and a real uvicorn server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.auth import hash_key
from api.settings import ApiKeyConfig, Settings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
TAOBAO = DATA / "taobao" / "user_behavior_814_users.csv"
TAOBAO_RELATIVE = "taobao/user_behavior_814_users.csv"
TAOBAO_SCHEMA = ROOT / "examples" / "taobao.yaml"

WRITE_KEY = "lt_test_write_key_0123456789abcdef"
READ_KEY = "lt_test_read_key_0123456789abcdef"


def key_configs() -> list[ApiKeyConfig]:
    return [
        ApiKeyConfig(hash=hash_key(WRITE_KEY), scope="write", name="test-write"),
        ApiKeyConfig(hash=hash_key(READ_KEY), scope="read", name="test-read"),
    ]


def taobao_schema_dict() -> dict:
    import yaml

    return yaml.safe_load(TAOBAO_SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture
def make_settings(tmp_path):
    """Build settings with a temporary registry, the real data directory and the two test keys."""

    def build(**overrides) -> Settings:
        values = {"registry_dir": tmp_path / "models", "data_dir": DATA, "api_keys": key_configs(), **overrides}
        return Settings(**values)

    return build


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory) -> Path:
    """A registry with model `taobao-buy` version 1: 2 epochs on the Taobao `buy` rows, seed 7."""
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.registry import Registry
    from generator.schema import Schema

    root = tmp_path_factory.mktemp("registry")
    schema = Schema.from_file(TAOBAO_SCHEMA)
    frame = load_table(TAOBAO, schema.source)
    model = train(frame, schema, TrainingSettings(epochs=2, seed=7, minority_values=["buy"]))
    Registry(root).register(model, model_id="taobao-buy")
    return root


def auth(key: str = WRITE_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A uvicorn process serving the app on 127.0.0.1."""

    base_url: str
    registry_dir: Path
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path

    def kill(self) -> None:
        """Stop the server with SIGKILL, as a crash would, without a graceful shutdown."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_server(registry_dir: Path, log_path: Path, **settings: str) -> Server:
    """Start `python -m api` on a free port of 127.0.0.1 and wait until `/healthz` returns 200."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LONGTAIL_REGISTRY_DIR": str(registry_dir),
        "LONGTAIL_DATA_DIR": str(DATA),
        "LONGTAIL_API_KEYS": json.dumps([key.model_dump() for key in key_configs()]),
        "LONGTAIL_PORT": str(port),
        **{f"LONGTAIL_{name.upper()}": value for name, value in settings.items()},
    }
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(f"http://127.0.0.1:{port}", registry_dir, env, process, log_path)

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"server did not answer /healthz within 90 s:\n{server.log()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server with an empty registry, shared by the tests of one module."""
    root = tmp_path_factory.mktemp("server")
    running = start_server(root / "models", root / "server.log")
    yield running
    running.stop()
