"""The service end to end: `python -m api.demo`.

Starts the service on 127.0.0.1 with a generated development key, trains a
model on the `buy` minority of the Taobao log through `POST /v1/training-jobs`,
requests an augmentation batch over HTTP and prints the plan and the fidelity
summary. The Taobao file is read from `taobao/user_behavior_814_users.csv`
under the data directory (`--data-dir`, or `LONGTAIL_DATA_DIR`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.auth import generate_key, hash_key
from api.client import Batch, LongtailClient

TAOBAO_PATH = "taobao/user_behavior_814_users.csv"
TAOBAO_SCHEMA = {
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
    "minority": {"values": ["buy"]},
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sampling_strategy(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("LONGTAIL_DATA_DIR", "data")),
                        help="Folder that contains taobao/user_behavior_814_users.csv (default: LONGTAIL_DATA_DIR or ./data).")
    parser.add_argument("--registry", type=Path, default=Path("models"),
                        help="Model registry folder; the job store is the file jobs.sqlite3 inside it (default: ./models).")
    parser.add_argument("--epochs", type=int, default=30, help="Training epochs (default: 30).")
    parser.add_argument("--seed", type=int, default=7, help="Seed of training and sampling (default: 7).")
    parser.add_argument("--sampling-strategy", type=_sampling_strategy, default="minority",
                        help="imbalanced-learn sampling_strategy: a float ratio or 'minority' (default: 'minority', "
                        "which brings `buy` up to the count of the majority class).")
    parser.add_argument("--out", type=Path, default=None, help="Write the synthetic rows to this Parquet file.")
    return parser.parse_args(argv)


def _start_service(arguments: argparse.Namespace, key: str, port: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "LONGTAIL_REGISTRY_DIR": str(arguments.registry),
        "LONGTAIL_DATA_DIR": str(arguments.data_dir),
        "LONGTAIL_API_KEYS": json.dumps([{"hash": hash_key(key), "scope": "write", "name": "demo"}]),
        "LONGTAIL_PORT": str(port),
        "LONGTAIL_HOST": "127.0.0.1",
    }
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    log = log_path.open("ab")
    return subprocess.Popen([sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_until_healthy(base_url: str, process: subprocess.Popen, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with code {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for /healthz; see the service log {log_path}")


def _train(client: LongtailClient, arguments: argparse.Namespace) -> str:
    job = client.create_training_job(
        TAOBAO_PATH, schema=TAOBAO_SCHEMA, minority_values=["buy"], epochs=arguments.epochs, seed=arguments.seed,
        model_id="taobao-buy",
    )
    print(f"training job {job.job_id}: {arguments.epochs} epochs on the Taobao `buy` rows")

    last_epoch = -1
    while job.status in ("queued", "running"):
        time.sleep(1)
        job = client.get_job(job.job_id)
        progress = job.progress
        if progress.epoch != last_epoch and progress.generator_loss is not None:
            eta = f", ETA {progress.eta_seconds:.0f} s" if progress.eta_seconds is not None else ""
            print(f"  epoch {progress.epoch}/{progress.epochs}: generator loss {progress.generator_loss:.3f}, "
                  f"discriminator loss {progress.discriminator_loss:.3f}{eta}")
            last_epoch = progress.epoch

    if job.status != "succeeded":
        detail = f"{job.error.type}: {job.error.message}" if job.error else job.status
        raise SystemExit(f"training job {job.job_id} ended as {job.status}: {detail}")
    print(f"registered model {job.result['model_id']} version {job.result['version']}")
    return job.result["model_id"]


def _print_batch(batch: Batch) -> None:
    plan = batch.plan or {}
    print(f"\nplan (sampling_strategy={plan.get('sampling_strategy')!r}):")
    print(f"  {'class':<8}{'before':>10}{'generate':>10}{'after':>10}")
    for label, before in sorted(plan.get("class_counts", {}).items()):
        generated = plan.get("n_samples", {}).get(label, 0)
        print(f"  {label:<8}{before:>10}{generated:>10}{plan.get('target_counts', {}).get(label, before):>10}")
    for label, reason in sorted(plan.get("not_generated", {}).items()):
        print(f"  not generated: {label}: {reason}")

    fidelity = batch.fidelity
    scores = fidelity.get("scores", {})
    privacy = fidelity.get("privacy", {})
    dcr = privacy.get("dcr", {})
    print(f"\nfidelity of {len(batch.rows)} rows (statistics on {fidelity.get('rows')} of them):")
    for name in ("overall", "column_shapes", "column_pair_trends"):
        value = scores.get(name)
        print(f"  {name:<20}{'n/a' if value is None else f'{value:.3f}'}")
    for column, shape in fidelity.get("column_shapes", {}).items():
        score = shape.get("score")
        print(f"  {column:<20}{shape.get('metric')} {'n/a' if score is None else f'{score:.3f}'}")
    print(f"  exact copies of training rows: {privacy.get('exact_copy_share', float('nan')):.4f}")
    print(f"  DCR median, synthetic / holdout: {dcr.get('synthetic_median')} / {dcr.get('holdout_median')}")


def main(argv: list[str] | None = None) -> None:
    arguments = _parse(argv)
    if not (arguments.data_dir / TAOBAO_PATH).is_file():
        raise SystemExit(f"Taobao log not found at {arguments.data_dir / TAOBAO_PATH}; pass --data-dir or set LONGTAIL_DATA_DIR")

    key = generate_key()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    arguments.registry.mkdir(parents=True, exist_ok=True)
    log_path = arguments.registry / "demo-service.log"
    print(f"development API key for this run (not stored): {key}")
    print(f"starting the service at {base_url} (log: {log_path})")

    started = time.monotonic()
    process = _start_service(arguments, key, port, log_path)
    try:
        _wait_until_healthy(base_url, process, log_path)
        with LongtailClient(base_url, key, timeout=600) as client:
            model_id = _train(client, arguments)
            batch = client.augment(model_id, arguments.sampling_strategy, seed=arguments.seed, format="arrow")
        _print_batch(batch)
        if arguments.out is not None:
            batch.rows.to_parquet(arguments.out, index=False)
            print(f"\nwrote {len(batch.rows)} rows to {arguments.out}")
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"\ndone in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
