"""Audit longtail on the four real datasets and print the BENCHMARKS.md tables.

Usage, from the repository root:

    .venv/bin/python -m bench.audit_all [--epochs 300] [--seed 0] [--out out/bench-audit]

For each dataset it splits the rows 80/20 into training and holdout, stratified
by label. Identical rows stay on one side, so the holdout shares no row with
the training data. It then trains a model on the training split and runs the
same audit as `longtail audit` (`run_model_audit`, seeds SEED to SEED + 2).
Bank Marketing's `duration` column is dropped, because it is only known after
the call and leaks the target. Each dataset's audit.json and audit.html go to
OUT/<dataset>/, and the tables go to standard output in Markdown.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from generator.audit.model_audit import run_model_audit
from generator.audit.summary import METRIC_NAMES, STRATEGY_NAMES
from generator.audit.utility import METRICS
from generator.loading import load_table
from generator.model import TrainingSettings, train
from generator.schema import Schema

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "taobao": (DATA / "taobao" / "user_behavior_814_users.csv", ROOT / "examples" / "taobao.yaml", []),
    "online_shoppers": (DATA / "online_shoppers" / "online_shoppers_intention.csv", ROOT / "examples" / "online_shoppers.yaml", []),
    "adult": (DATA / "adult" / "adult.data", ROOT / "examples" / "adult.yaml", []),
    "bank_marketing": (DATA / "bank_marketing" / "bank-full.csv", ROOT / "examples" / "bank_marketing.yaml", ["duration"]),
}
HOLDOUT_FRACTION = 0.2

logger = logging.getLogger("bench.audit_all")


def main(argv: list[str] | None = None) -> None:
    """Audit every dataset named on the command line (all four by default) and print the tables."""
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    for name in ("generator", "sdmetrics", "rdt", "ctgan"):
        logging.getLogger(name).setLevel(logging.WARNING)

    reports = {}
    for name in arguments.datasets:
        reports[name] = audit_dataset(name, arguments)
    print(render_tables(reports, arguments))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=300, help="CTGAN training epochs per dataset.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the split, training, sampling and audit.")
    parser.add_argument("--max-rows", type=int, default=20_000, help="Audit subsampling cap, as `longtail audit --max-rows`.")
    parser.add_argument("--iterations", type=int, default=100, help="Boosting iterations of the audit classifiers.")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench-audit", help="Folder for the reports.")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS), help="Datasets to audit.")
    return parser


def audit_dataset(name: str, arguments: argparse.Namespace) -> dict:
    """Split, train and audit one dataset; return the report with the seconds each step took."""
    path, schema_path, dropped = DATASETS[name]
    schema = Schema.from_file(schema_path)
    raw = load_table(path, schema.source).drop(columns=dropped)
    if dropped:
        columns = {column: spec for column, spec in schema.columns.items() if column not in dropped}
        schema = schema.model_copy(update={"columns": columns})
    training, holdout = split_without_shared_rows(raw, schema.label, arguments.seed)

    started = time.perf_counter()
    settings = TrainingSettings(epochs=arguments.epochs, seed=arguments.seed)
    model = train(training, schema, settings, source=str(path), model_id=f"bench-{name}")
    trained = time.perf_counter()
    logger.info("%s: trained on %d rows in %.0f s", name, len(training), trained - started)

    result = run_model_audit(
        model, holdout, None, None, arguments.seed, arguments.out / name, None, train=training,
        max_rows=arguments.max_rows, iterations=arguments.iterations,
    )
    audited = time.perf_counter()
    logger.info("%s: audited in %.0f s, report at %s", name, audited - trained, result.html_path)
    return {**result.report, "seconds": {"training": trained - started, "audit": audited - trained}}


def split_without_shared_rows(raw: pd.DataFrame, label: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `raw` into training and holdout rows, stratified by label; identical rows stay together."""
    hashes = pd.util.hash_pandas_object(raw, index=False).to_numpy()
    unique_hashes, first = np.unique(hashes, return_index=True)
    labels = raw[label].fillna("(missing)").to_numpy()[first]
    train_hashes, _ = train_test_split(unique_hashes, test_size=HOLDOUT_FRACTION, stratify=labels, random_state=seed)
    in_train = np.isin(hashes, train_hashes)
    return raw[in_train].reset_index(drop=True), raw[~in_train].reset_index(drop=True)


def render_tables(reports: dict[str, dict], arguments: argparse.Namespace) -> str:
    """Return the Markdown tables of BENCHMARKS.md: utility, then quality, detection and privacy, then verdicts."""
    lines = [
        f"Produced by `.venv/bin/python -m bench.audit_all --epochs {arguments.epochs} --seed {arguments.seed}` "
        f"(mean ± standard deviation over seeds {arguments.seed} to {arguments.seed + 2}; "
        f"HistGradientBoostingClassifier with {arguments.iterations} iterations; every rebalancing strategy "
        "reaches a minority-to-majority ratio of 0.5).",
        "",
        "### Downstream utility on the real holdout",
        "",
        "| dataset | strategy | " + " | ".join(METRIC_NAMES[metric] for metric in METRICS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in METRICS) + " |",
    ]
    for name, report in reports.items():
        for strategy in report["utility"]["strategies"]:
            label = strategy.get("method") or strategy["name"]
            cells = [f"{_value(strategy['metrics'][m]['mean'])} ± {_value(strategy['metrics'][m]['std'])}" for m in METRICS]
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "### Quality, detection and privacy of the synthetic minority rows",
        "",
        "| dataset | quality score | column shapes | pair trends | diagnostic | detection ROC AUC | real-vs-real ROC AUC "
        "| exact copies | holdout exact copies | median DCR | holdout median DCR | training s | audit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, report in reports.items():
        quality, detection, privacy = report["quality"], report["detection"], report["privacy"]
        cells = [
            _value(quality["score"]),
            _value(quality["properties"].get("Column Shapes")),
            _value(quality["properties"].get("Column Pair Trends")),
            _value(report["diagnostic"]["score"]),
            f"{_value(detection['roc_auc']['mean'])} ± {_value(detection['roc_auc']['std'])}",
            f"{_value(detection['baseline_roc_auc']['mean'])} ± {_value(detection['baseline_roc_auc']['std'])}",
            f"{privacy['exact_copy_share']:.2%}",
            f"{privacy['holdout_exact_copy_share']:.2%}",
            _value(privacy["dcr"]["synthetic"]["median"], 4),
            _value(privacy["dcr"]["holdout"]["median"], 4),
            f"{report['seconds']['training']:.0f}",
            f"{report['seconds']['audit']:.0f}",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    lines += ["", "### Where longtail wins and loses (PR-AUC, the primary figure)", ""]
    for name, report in reports.items():
        for sentence in report["summary"]["headline"]:
            lines.append(f"- {name}: {sentence}")
    losses = [
        f"{name} against {STRATEGY_NAMES[item['baseline']]}"
        for name, report in reports.items()
        for item in report["summary"]["comparisons"]
        if item["verdict"] == "worse" and item["metric"] == "pr_auc"
    ]
    lines += ["", "longtail loses on PR-AUC on: " + ("; ".join(losses) if losses else "no dataset") + "."]
    return "\n".join(lines)


def _value(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    main()
