"""`longtail audit`: the offline fidelity audit of a registered model, as JSON and HTML."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

logger = logging.getLogger(__name__)
console = Console(stderr=True)


def audit_command(
    model_id: Annotated[str, typer.Argument(help="Registry id of the model to audit.")],
    real: Annotated[Path, typer.Option("--real", help="Real holdout rows the model never saw, with every class, in the training file's format.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for audit.json and audit.html; created if missing.")],
    synthetic: Annotated[
        Optional[Path], typer.Option("--synthetic", help="Synthetic minority rows to audit, as `longtail sample` writes them; sampled from the model when omitted.")
    ] = None,
    rows: Annotated[
        Optional[int], typer.Option("-n", "--rows", min=1, help="Synthetic rows to sample; by default three times the rows the utility test adds.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 3, help="Seed of sampling, subsampling and classifiers; the audit uses it and the next two.")] = 0,
    version: Annotated[Optional[int], typer.Option(help="Model version; the latest when omitted.")] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=100, help="Cap on training and holdout rows of the utility test and on minority rows compared for quality.")
    ] = 20_000,
    sampling_strategy: Annotated[
        float, typer.Option("--sampling-strategy", min=0.0, max=1.0, help="Minority-to-majority ratio that every rebalancing strategy reaches.")
    ] = 0.5,
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, help="Boosting iterations of every audit classifier; fewer run faster.")
    ] = 100,
    registry: Annotated[Path, typer.Option("--registry", envvar="LONGTAIL_REGISTRY_DIR", help="Model registry folder.")] = Path("models"),
    train: Annotated[
        Optional[Path],
        typer.Option("--train", help="Training data of the model; the path in its manifest when omitted. Its fingerprint must match the manifest's."),
    ] = None,
) -> None:
    """Audit a model: SDMetrics reports, detection, privacy (DCR) and downstream utility against SMOTE and others."""
    from generator.audit.model_audit import run_model_audit
    from generator.cli import open_registry
    from generator.errors import LongtailInputError, PlanError
    from generator.loading import load_table

    if synthetic is not None and rows is not None:
        raise PlanError("Pass either --synthetic or -n, not both: -n sets how many rows to sample from the model.")
    if out.exists() and not out.is_dir():
        raise LongtailInputError(f"Output folder {out} is an existing file; give a folder for audit.json and audit.html.")
    model = open_registry(registry).load(model_id, version)
    holdout = load_table(real, model.schema.source)
    synthetic_rows = load_table(synthetic, model.schema.source) if synthetic is not None else None
    training = load_table(train, model.schema.source) if train is not None else None

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("sampling and checks", total=None)

        def on_step(step) -> None:
            bar.update(task, description=step.stage, completed=step.completed, total=step.total)

        result = run_model_audit(
            model, holdout, synthetic_rows, rows, seed, out, on_step,
            max_rows=max_rows, sampling_strategy=sampling_strategy, iterations=iterations, train=training,
        )

    for sentence in result.report["summary"]["headline"]:
        console.print(sentence, highlight=False)
    console.print(f"Wrote {result.json_path} and {result.html_path}")
