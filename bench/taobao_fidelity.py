"""Fidelity of `buy` rows: longtail next to SDV's CTGANSynthesizer, same rows, same epochs, one run.

    .venv/bin/python bench/taobao_fidelity.py --epochs 100 --rows 5000

Both models learn the 1,749 real `buy` rows of the Taobao log. Each sample of
`--rows` rows is scored against those real rows by SDMetrics' QualityReport
on the columns both produce (category_id, timestamp, behavior_type), and by
longtail's own fidelity statistics. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TAOBAO = ROOT.parent / "shared" / "data" / "taobao" / "user_behavior_814_users.csv"
NAMES = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
COMPARED = ["category_id", "behavior_type", "timestamp"]


def sdv_metadata():
    from sdv.metadata import Metadata

    return Metadata.load_from_dict(
        {
            "tables": {
                "buy": {
                    "columns": {
                        "category_id": {"sdtype": "categorical"},
                        "behavior_type": {"sdtype": "categorical"},
                        "timestamp": {"sdtype": "numerical"},
                    }
                }
            }
        }
    )


def quality(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    from sdmetrics.reports.single_table import QualityReport

    metadata = {
        "columns": {
            "category_id": {"sdtype": "categorical"},
            "behavior_type": {"sdtype": "categorical"},
            "timestamp": {"sdtype": "numerical"},
        }
    }
    report = QualityReport()
    report.generate(real[COMPARED], synthetic[COMPARED], metadata, verbose=False)
    return float(report.get_score())


def run_longtail(log: pd.DataFrame, epochs: int, rows: int, seed: int) -> dict:
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.schema import Schema

    schema = Schema.from_file(ROOT / "examples" / "taobao.yaml")
    raw = load_table(TAOBAO, schema.source)
    start = time.perf_counter()
    model = train(raw, schema, TrainingSettings(epochs=epochs, seed=seed, holdout_fraction=0, fidelity_rows=10))
    fit_seconds = time.perf_counter() - start

    start = time.perf_counter()
    result = model.sample(rows, conditions={"behavior_type": "buy"}, seed=seed)
    sample_seconds = time.perf_counter() - start
    synthetic = result.rows.astype({"timestamp": "int64"})
    return {
        "synthetic": synthetic,
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "own_overall": result.fidelity["scores"]["overall"],
    }


def run_sdv(real: pd.DataFrame, epochs: int, rows: int, seed: int) -> dict:
    import torch
    from sdv.single_table import CTGANSynthesizer

    torch.manual_seed(seed)
    np.random.seed(seed)
    synthesizer = CTGANSynthesizer(sdv_metadata(), epochs=epochs, enable_gpu=False)
    start = time.perf_counter()
    # SDV has no notion of a real item to draw: its id columns are generated fresh, so they are left out
    # of its training table and reported as not real.
    synthesizer.fit({"buy": real.drop(columns=["user_id", "item_id"])})  # SDV 2 takes {table name: DataFrame}
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = synthesizer.sample(rows)
    if isinstance(synthetic, dict):
        synthetic = synthetic["buy"]
    synthetic = synthetic.assign(user_id="", item_id="")
    sample_seconds = time.perf_counter() - start
    return {"synthetic": synthetic, "fit_seconds": fit_seconds, "sample_seconds": sample_seconds}


def realism(synthetic: pd.DataFrame, log: pd.DataFrame) -> dict:
    pairs = set(zip(log["item_id"].astype(str), log["category_id"].astype(str)))
    items = set(log["item_id"].astype(str))
    return {
        "real_item_share": float(synthetic["item_id"].astype(str).isin(items).mean()),
        "real_item_category_share": float(np.mean([pair in pairs for pair in zip(synthetic["item_id"].astype(str), synthetic["category_id"].astype(str))])),
        "buy_share": float((synthetic["behavior_type"] == "buy").mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100, help="Training epochs for both models.")
    parser.add_argument("--rows", type=int, default=5000, help="Rows sampled from each model.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both models (1 keeps runs comparable on a shared machine).")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    log = pd.read_csv(TAOBAO, header=None, names=NAMES, dtype={"user_id": str, "item_id": str, "category_id": str})
    real = log[log["behavior_type"] == "buy"].reset_index(drop=True)

    longtail = run_longtail(log, args.epochs, args.rows, args.seed)
    sdv = run_sdv(real, args.epochs, args.rows, args.seed)
    figures = {}
    for name, run in (("longtail", longtail), ("SDV CTGANSynthesizer", sdv)):
        figures[name] = {
            "quality_report_score": quality(real, run["synthetic"]),
            "fit_seconds": run["fit_seconds"],
            "sample_seconds": run["sample_seconds"],
            **realism(run["synthetic"], log),
        }
    figures["longtail"]["own_overall_with_derived_columns"] = longtail["own_overall"]

    print(f"Taobao `buy` rows ({len(real)} real), {args.epochs} epochs, {args.rows} rows sampled, seed {args.seed}\n")
    print("| model | QualityReport score | real item ids | real (item, category) pairs | buy rows | fit s | sample s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, row in figures.items():
        print(f"| {name} | {row['quality_report_score']:.3f} | {row['real_item_share']:.1%} | {row['real_item_category_share']:.1%} "
              f"| {row['buy_share']:.1%} | {row['fit_seconds']:.1f} | {row['sample_seconds']:.2f} |")
    ratio = figures["longtail"]["quality_report_score"] / figures["SDV CTGANSynthesizer"]["quality_report_score"]
    print(f"\nlongtail / SDV QualityReport score: {ratio:.3f}; "
          f"fit time ratio {figures['longtail']['fit_seconds'] / figures['SDV CTGANSynthesizer']['fit_seconds']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
