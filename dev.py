#!/usr/bin/env python3
"""Set up longtail in a local virtual environment and run its main job or its tests.

    python3 dev.py demo    start the service, train on the Taobao `buy` minority over HTTP, print plan and fidelity
    python3 dev.py test    run the test suite
    python3 dev.py shell   print the path of the environment's Python

Needs only Python 3.10+ and the package registries; installs everything else into ./.venv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".longtail-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
DATA = ROOT.parent / "shared" / "data"  # the real datasets, beside the checkout


def ensure_environment() -> None:
    """Create .venv and install the project with its test extras, unless pyproject.toml is unchanged since."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    # torch first and pinned: an unpinned torch would pull a CUDA build of several GB.
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "torch==2.13.0"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"])
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """Install Debian's Chromium for the audit page test where apt-get and root are available."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        print("Chromium is not installed and cannot be installed here; the HTML rendering test will be skipped.", flush=True)
        return
    print("Installing Chromium for the HTML rendering test", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    if subprocess.call(["apt-get", "update", "-qq"], **quiet) != 0 or subprocess.call(
        ["apt-get", "install", "-y", "-qq", "chromium"], **quiet
    ) != 0:
        print("Installing Chromium failed; the HTML rendering test will be skipped.", flush=True)


def run(command: list[str]) -> None:
    completed = subprocess.run(command, cwd=ROOT)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def main() -> int:
    action = sys.argv[1] if len(sys.argv) > 1 else "help"
    extra = sys.argv[2:]
    if action == "demo":
        ensure_environment()
        if not any(argument.startswith("--data-dir") for argument in extra):
            extra = ["--data-dir", str(DATA), *extra]
        return subprocess.call([str(BIN / "longtail"), "demo", *extra], cwd=ROOT)
    if action == "test":
        ensure_environment()
        ensure_chromium()
        code = subprocess.call([str(PYTHON), "-m", "pytest", *extra], cwd=ROOT)
        if code == 5:
            print("pytest collected no tests: treating that as a failure.", file=sys.stderr)
            return 1
        return code
    if action == "shell":
        ensure_environment()
        print(PYTHON)
        return 0
    print(__doc__)
    return 0 if action in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
