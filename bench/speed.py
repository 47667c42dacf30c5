"""Training and sampling speed and memory: longtail next to ctgan, SDV and imbalanced-learn, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/speed.py --epochs 5

All contenders learn the whole Taobao log (84,287 rows) conditioned on
`behavior_type`, where `buy` is 2.08% of rows, with the same epochs and batch
size, one torch thread each, one after another. Each runs in its own
process so that its peak resident memory is its own. Figures:

- fit seconds (preprocessing included) and seconds per epoch;
- unconditional sampling speed (rows per second, 50,000 rows);
- exact conditional sampling of 2,000 `buy` rows: seconds, and rows generated
  per returned row, by longtail's top-up rounds and by SDV's reject sampling.
  ctgan's `condition_column` returns rows that need not match, so its share of
  matching rows is shown;
- SMOTE-NC from imbalanced-learn bringing `buy` to 25% of `pv` on the same
  columns, as the non-GAN reference for time and memory.

Prints a Markdown table for BENCHMARKS.md with ratios against longtail.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TAOBAO = ROOT.parent / "shared" / "data" / "taobao" / "user_behavior_814_users.csv"
NAMES = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
CONDITIONAL_ROWS = 2000
UNCONDITIONAL_ROWS = 50_000


def model_space_table() -> pd.DataFrame:
    """Build the table a GAN baseline learns from the raw log: no keys, category capped like longtail's."""
    log = pd.read_csv(TAOBAO, header=None, names=NAMES, dtype={"category_id": str})
    top = log["category_id"].value_counts().index[:50]
    return pd.DataFrame(
        {
            "category_id": log["category_id"].where(log["category_id"].isin(top), "rare"),
            "behavior_type": log["behavior_type"],
            "timestamp": log["timestamp"].astype(float),
            "item_popularity": np.log1p(log.groupby("item_id")["item_id"].transform("size")).astype(float),
        }
    )


def run_longtail(epochs: int) -> dict:
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.schema import Schema

    schema = Schema.from_file(ROOT / "examples" / "taobao.yaml")
    raw = load_table(TAOBAO, schema.source)
    seconds = []
    start = time.perf_counter()
    model = train(raw, schema, TrainingSettings(epochs=epochs, seed=0, mode="conditional", fidelity_rows=10),
                  on_epoch=lambda progress: seconds.append(progress.seconds))
    fit = time.perf_counter() - start

    start = time.perf_counter()
    model.engine.sample(UNCONDITIONAL_ROWS, seed=1)
    unconditional = time.perf_counter() - start

    start = time.perf_counter()
    result = model.sample(CONDITIONAL_ROWS, conditions={"behavior_type": "buy"}, seed=2)
    conditional = time.perf_counter() - start
    return {
        "fit_seconds": fit,
        "epoch_seconds": float(np.mean(seconds)),
        "unconditional_rows_per_second": UNCONDITIONAL_ROWS / unconditional,
        "conditional_seconds": conditional,
        "generated_per_returned": result.generated / CONDITIONAL_ROWS,
        "matching_share": float((result.rows["behavior_type"] == "buy").mean()),
    }


def run_ctgan(epochs: int) -> dict:
    import torch
    from ctgan import CTGAN

    table = model_space_table()
    torch.manual_seed(0)
    seconds = []
    model = CTGAN(epochs=epochs, enable_gpu=False)
    start = time.perf_counter()
    model.fit(table, ["category_id", "behavior_type"])
    fit = time.perf_counter() - start
    seconds.append(fit / epochs)

    start = time.perf_counter()
    model.sample(UNCONDITIONAL_ROWS)
    unconditional = time.perf_counter() - start

    start = time.perf_counter()
    rows = model.sample(CONDITIONAL_ROWS, condition_column="behavior_type", condition_value="buy")
    conditional = time.perf_counter() - start
    return {
        "fit_seconds": fit,
        "epoch_seconds": None,
        "unconditional_rows_per_second": UNCONDITIONAL_ROWS / unconditional,
        "conditional_seconds": conditional,
        "generated_per_returned": 1.0,
        "matching_share": float((rows["behavior_type"] == "buy").mean()),
    }


def run_sdv(epochs: int) -> dict:
    import torch
    from sdv.metadata import Metadata
    from sdv.sampling import Condition
    from sdv.single_table import CTGANSynthesizer

    table = model_space_table()
    metadata = Metadata.load_from_dict(
        {"tables": {"log": {"columns": {
            "category_id": {"sdtype": "categorical"},
            "behavior_type": {"sdtype": "categorical"},
            "timestamp": {"sdtype": "numerical"},
            "item_popularity": {"sdtype": "numerical"},
        }}}}
    )
    torch.manual_seed(0)
    synthesizer = CTGANSynthesizer(metadata, epochs=epochs, enable_gpu=False)
    start = time.perf_counter()
    synthesizer.fit({"log": table})
    fit = time.perf_counter() - start

    start = time.perf_counter()
    synthesizer.sample(UNCONDITIONAL_ROWS)
    unconditional = time.perf_counter() - start

    # Count the rows SDV's reject sampling generates: every call of _sample_rows draws num_rows rows.
    generated = {"rows": 0}
    original = synthesizer._sample_rows

    def counting(num_rows, *args, **kwargs):
        generated["rows"] += int(num_rows)
        return original(num_rows, *args, **kwargs)

    synthesizer._sample_rows = counting
    start = time.perf_counter()
    rows = synthesizer.sample_from_conditions([Condition({"behavior_type": "buy"}, num_rows=CONDITIONAL_ROWS)])
    conditional = time.perf_counter() - start
    if isinstance(rows, dict):
        rows = rows["log"]
    return {
        "fit_seconds": fit,
        "epoch_seconds": None,
        "unconditional_rows_per_second": UNCONDITIONAL_ROWS / unconditional,
        "conditional_seconds": conditional,
        "generated_per_returned": generated["rows"] / max(len(rows), 1) if generated["rows"] else None,
        "matching_share": float((rows["behavior_type"] == "buy").mean()),
    }


def run_smote(epochs: int) -> dict:
    from imblearn.over_sampling import SMOTENC

    table = model_space_table()
    y = table.pop("behavior_type")
    counts = y.value_counts()
    target = {"buy": int(counts["pv"] * 0.25)}
    start = time.perf_counter()
    resampled, labels = SMOTENC(categorical_features=[0], sampling_strategy=target, random_state=0).fit_resample(table, y)
    fit = time.perf_counter() - start
    new_rows = len(resampled) - len(table)
    return {
        "fit_seconds": fit,
        "epoch_seconds": None,
        "unconditional_rows_per_second": None,
        "conditional_seconds": fit,
        "generated_per_returned": 1.0,
        "matching_share": 1.0,
        "new_rows": new_rows,
    }


CONTENDERS = {"longtail": run_longtail, "ctgan.CTGAN": run_ctgan, "SDV CTGANSynthesizer": run_sdv, "imbalanced-learn SMOTE-NC": run_smote}


def run_one(name: str, epochs: int) -> None:
    import torch

    torch.set_num_threads(1)
    figures = CONTENDERS[name](epochs)
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--one", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.epochs)
        return

    results = {}
    for name in CONTENDERS:
        print(f"running {name}", file=sys.stderr, flush=True)
        completed = subprocess.run([sys.executable, __file__, "--one", name, "--epochs", str(args.epochs)],
                                   capture_output=True, text=True, check=True)
        results[name] = json.loads(completed.stdout.strip().splitlines()[-1])

    base = results["longtail"]
    print(f"Taobao log, 84,287 rows, conditioned on behavior_type, {args.epochs} epochs, 1 torch thread each\n")
    print("| contender | fit s | fit time vs longtail | sampling rows/s | longtail sampling speed vs it | 2,000 exact `buy` rows: s | generated per returned row | `buy` share returned | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in results.items():
        speed = row["unconditional_rows_per_second"]
        speed_text = "n/a" if speed is None else f"{speed:,.0f}"
        ratio_text = "n/a" if speed is None else f"{base['unconditional_rows_per_second'] / speed:.2f}x"
        generated = row["generated_per_returned"]
        generated_text = "n/a" if generated is None else f"{generated:.1f}"
        print(
            f"| {name} | {row['fit_seconds']:.1f} | {row['fit_seconds'] / base['fit_seconds']:.2f}x | {speed_text} "
            f"| {ratio_text} | {row['conditional_seconds']:.2f} | {generated_text} | {row['matching_share']:.1%} "
            f"| {row['peak_rss_mib']:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
