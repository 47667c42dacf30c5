"""The Docker image and compose file, checked without a Docker engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from api.settings import Settings
from tests.api.conftest import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_runs_serve_as_non_root_user():
    steps = instructions()
    commands = [command for command, _ in steps]

    assert steps[0] == ("FROM", "python:3.11-slim")
    assert ("USER", "longtail") in steps
    assert commands.index("USER") < commands.index("CMD")
    assert json.loads(dict(steps)["CMD"]) == ["longtail", "serve", "--host", "0.0.0.0"]


def test_dockerfile_copies_what_pip_install_needs():
    copied = [source for command, argument in instructions() if command == "COPY" for source in argument.split()[:-1]]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")

    assert {"generator", "api", "pyproject.toml"} <= set(copied)
    assert 'readme = "README.md"' not in pyproject or "README.md" in copied


def test_dockerfile_environment_matches_settings():
    environment = dict(
        re.findall(r"(LONGTAIL_[A-Z_]+)=(\S+)", " ".join(argument for command, argument in instructions() if command == "ENV"))
    )

    settings = Settings(**{name.removeprefix("LONGTAIL_").lower(): value for name, value in environment.items()})

    assert str(settings.registry_dir) == "/var/lib/longtail/models"
    assert str(settings.job_database) == "/var/lib/longtail/models/jobs.sqlite3"
    assert settings.host == "0.0.0.0"
    assert ("VOLUME", '["/var/lib/longtail/models"]') in instructions()


def test_compose_mounts_registry_volume_and_requires_keys():
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    service = compose["services"]["longtail"]

    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert "registry:/var/lib/longtail/models" in service["volumes"]
    assert "registry" in compose["volumes"]
    assert service["environment"]["LONGTAIL_API_KEYS"].startswith("${LONGTAIL_API_KEYS:?")
    assert service["ports"] == ["127.0.0.1:8000:8000"]


def test_serve_entry_point_parses_host_option():
    output = subprocess.run(
        [sys.executable, "-m", "api", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert "--host HOST" in output.stdout
    assert "--port PORT" in output.stdout
