"""The `longtail` command line: schema, train, sample, augment, models.

Exit codes: 0 success, 2 bad input (data, schema, option, condition,
artifact), 1 any other failure.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from generator.audit_cli import audit_command
from generator.errors import LongtailError, LongtailInputError
from generator.loading import load_table, sniff_source
from generator.output import write_rows
from generator.schema import Schema, SourceOptions

logger = logging.getLogger(__name__)
console = Console(stderr=True, soft_wrap=True)

EXIT_INPUT = 2
EXIT_FAILURE = 1
DEFAULT_REGISTRY = "models"
DEFAULT_MAX_ROWS = 1_000_000
PROJECT_ROOT = Path(__file__).resolve().parents[1]
TAOBAO = PROJECT_ROOT.parent / "shared" / "data" / "taobao" / "user_behavior_814_users.csv"

app = typer.Typer(
    help="Train conditional GANs on the minority of interaction logs and sample balanced rows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(help="Draft and check schemas.", no_args_is_help=True)
models_app = typer.Typer(help="List and inspect registered models.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(models_app, name="models")
app.command("audit")(audit_command)

RegistryOption = Annotated[Path, typer.Option("--registry", envvar="LONGTAIL_REGISTRY_DIR", help="Model registry folder.")]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Random seed; the same seed gives the same rows.")]
MaxRowsOption = Annotated[
    int, typer.Option("--max-rows", envvar="LONGTAIL_MAX_ROWS", min=1, help="Largest number of rows one command may sample.")
]


def main() -> None:
    """Run the CLI, turning longtail errors into messages and exit codes."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()  # click exits with 2 on usage errors and with 0 after --help
    except LongtailInputError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_INPUT)
    except LongtailError as error:
        console.print(f"[red]failed:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILURE)
    except Exception as error:
        logger.debug("Unexpected error", exc_info=True)
        console.print(f"[red]failed:[/red] unexpected {type(error).__name__}: {error}", highlight=False)
        sys.exit(EXIT_FAILURE)


@schema_app.command("infer")
def schema_infer(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file to draft a schema for.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the YAML here instead of standard output.")] = None,
    delimiter: Annotated[Optional[str], typer.Option(help="CSV delimiter; detected when omitted.")] = None,
    header: Annotated[Optional[bool], typer.Option("--header/--no-header", help="Whether the CSV has a header line; detected when omitted.")] = None,
) -> None:
    """Draft a schema (YAML) with a role for every column; review it before training."""
    from generator.inference import infer_schema

    source = sniff_source(data, SourceOptions(delimiter=delimiter, header=header))
    frame = load_table(data, source)
    text = infer_schema(frame, source).to_yaml()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote schema draft for {len(frame.columns)} columns to {out}")


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet interaction log.")],
    schema_path: Annotated[Path, typer.Option("--schema", "-s", help="Schema file (YAML or JSON).")],
    model_id: Annotated[str, typer.Option("--model-id", "-m", help="Registry id of the model.")],
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 300,
    batch_size: Annotated[int, typer.Option(min=10, help="Rows per training batch.")] = 500,
    seed: SeedOption = 0,
    minority_value: Annotated[Optional[list[str]], typer.Option("--minority-value", help="Label value of the minority; repeat for several.")] = None,
    share_threshold: Annotated[Optional[float], typer.Option(help="Classes under this share are the minority when no value is named.")] = None,
    long_tail_only: Annotated[Optional[bool], typer.Option("--long-tail-only/--all-items", help="Learn only rows of long-tail items.")] = None,
    mode: Annotated[Optional[str], typer.Option(help="'minority' (minority rows only) or 'conditional' (all rows, conditioned on the label).")] = None,
    registry: RegistryOption = Path(DEFAULT_REGISTRY),
) -> None:
    """Train a model on the minority of a log and register it."""
    from generator.model import TrainingSettings
    from generator.model import train as train_model
    from generator.registry import validate_model_id

    validate_model_id(model_id)
    schema = Schema.from_file(schema_path)
    settings = _settings(TrainingSettings, epochs=epochs, batch_size=batch_size, seed=seed, minority_values=minority_value,
                         share_threshold=share_threshold, long_tail_only=long_tail_only, mode=mode)
    frame = load_table(data, schema.source)

    with EpochProgressBar(epochs) as on_epoch:
        model = train_model(frame, schema, settings, on_epoch=on_epoch, source=str(data), model_id=model_id)
    ref = open_registry(registry).register(model, model_id)
    score = (model.manifest.get("fidelity") or {}).get("scores", {}).get("overall")
    console.print(f"Registered {ref.model_id} version {ref.version} at {ref.path} (overall fidelity {_score(score)})")


@app.command()
def sample(
    model_id: Annotated[str, typer.Argument(help="Registry id of the model.")],
    rows: Annotated[int, typer.Option("-n", "--rows", help="Number of rows to sample.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.csv or .parquet); fidelity goes to OUT.fidelity.json.")],
    condition: Annotated[Optional[list[str]], typer.Option("--condition", "-c", help="COLUMN=VALUE that every row must satisfy; repeat for several.")] = None,
    seed: SeedOption = 0,
    user_ids: Annotated[str, typer.Option(help="'new' mints pseudonymous user ids; 'real' draws real users with a matching profile.")] = "new",
    version: Annotated[Optional[int], typer.Option(help="Model version; the latest when omitted.")] = None,
    include_derived: Annotated[bool, typer.Option("--include-derived", help="Append derived columns (item tier, hour, ...).")] = False,
    output_format: Annotated[Optional[str], typer.Option("--format", help="csv or parquet; from the file suffix when omitted.")] = None,
    registry: RegistryOption = Path(DEFAULT_REGISTRY),
    max_rows: MaxRowsOption = DEFAULT_MAX_ROWS,
) -> None:
    """Sample rows that satisfy every condition, with fidelity statistics."""
    from generator.sampling import check_row_count

    check_row_count(rows, max_rows)
    check_output_path(out)
    conditions = parse_conditions(condition or [])
    model = open_registry(registry).load(model_id, version)
    with console.status(f"Sampling {rows} rows"):
        result = model.sample(rows, conditions=conditions, seed=seed, user_ids=user_ids, max_rows=max_rows, include_derived=include_derived)
    _write_batch(result.rows, result.fidelity, out, output_format, model, extra={"match_rate": result.match_rate, "conditions": conditions})
    console.print(
        f"Wrote {len(result.rows)} rows to {out} (match rate before filtering {result.match_rate:.2%}, "
        f"overall fidelity {_score(result.fidelity.get('scores', {}).get('overall'))})"
    )


@app.command()
def augment(
    model_id: Annotated[str, typer.Argument(help="Registry id of the model.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.csv or .parquet); plan and fidelity go to OUT.fidelity.json.")],
    sampling_strategy: Annotated[str, typer.Option(help="imbalanced-learn sampling_strategy: a float, 'minority', 'not majority', 'not minority', 'all', 'auto', or a JSON object of target counts.")] = "auto",
    class_counts: Annotated[Optional[str], typer.Option(help="Class counts of your training set as a JSON object; the model's training log when omitted.")] = None,
    seed: SeedOption = 0,
    user_ids: Annotated[str, typer.Option(help="'new' or 'real' user ids.")] = "new",
    version: Annotated[Optional[int], typer.Option(help="Model version; the latest when omitted.")] = None,
    output_format: Annotated[Optional[str], typer.Option("--format", help="csv or parquet; from the file suffix when omitted.")] = None,
    registry: RegistryOption = Path(DEFAULT_REGISTRY),
    max_rows: MaxRowsOption = DEFAULT_MAX_ROWS,
) -> None:
    """Sample the rows a balancing plan requests, with the plan and fidelity statistics."""

    check_output_path(out)
    strategy = parse_sampling_strategy(sampling_strategy)
    counts = _parse_json_object(class_counts, "--class-counts") if class_counts else None
    model = open_registry(registry).load(model_id, version)
    with console.status("Sampling the balancing plan"):
        result = model.augment(strategy, class_counts=counts, seed=seed, user_ids=user_ids, max_rows=max_rows)
    _write_batch(result.rows, result.fidelity, out, output_format, model, extra={"plan": result.plan.to_dict(), "match_rates": result.match_rates})
    for label, reason in result.plan.not_generated.items():
        console.print(f"[yellow]warning:[/yellow] no rows for {label!r}: {reason}", highlight=False)
    if result.plan.total == 0:
        console.print("[yellow]warning:[/yellow] the plan generates no rows: the classes this model generates already meet the strategy.", highlight=False)
    console.print(f"Plan: {json.dumps(result.plan.n_samples)}; wrote {len(result.rows)} rows to {out} "
                  f"(overall fidelity {_score((result.fidelity.get('scores') or {}).get('overall'))})")


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the batch and its fidelity statistics.")] = Path("out"),
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 30,
    registry: RegistryOption = Path(DEFAULT_REGISTRY),
) -> None:
    """Train on the Taobao `buy` minority and write a balanced batch (sampling_strategy=0.25), without the service."""
    from generator.model import TrainingSettings
    from generator.model import train as train_model

    schema = Schema.from_file(PROJECT_ROOT / "examples" / "taobao.yaml")
    frame = load_table(TAOBAO, schema.source)
    with EpochProgressBar(epochs) as on_epoch:
        model = train_model(frame, schema, TrainingSettings(epochs=epochs, seed=0), on_epoch=on_epoch, source=str(TAOBAO), model_id="taobao-buy")
    ref = open_registry(registry).register(model, "taobao-buy")
    result = model.augment(0.25, seed=0)
    _write_batch(result.rows, result.fidelity, out / "taobao-buy-augmentation.csv", "csv", model, extra={"plan": result.plan.to_dict()})
    console.print(f"Model {ref.model_id} version {ref.version}; plan {result.plan.n_samples}")
    typer.echo(json.dumps({"plan": result.plan.to_dict(), "scores": result.fidelity.get("scores")}, indent=2))


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to bind; LONGTAIL_HOST or 127.0.0.1 when omitted.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to bind; LONGTAIL_PORT or 8000 when omitted.")] = None,
) -> None:
    """Run the HTTP service with uvicorn (settings from LONGTAIL_* environment variables)."""
    # The service lives in the `api` package, which the library never imports: it runs as its own module.
    # exec replaces this process, so signals such as docker stop's SIGTERM reach uvicorn directly.
    arguments = [sys.executable, "-m", "api"]
    if host is not None:
        arguments += ["--host", host]
    if port is not None:
        arguments += ["--port", str(port)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, arguments)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def demo(context: typer.Context) -> None:
    """Start the service, train on the Taobao `buy` minority over HTTP, and print the plan and fidelity."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "api.demo", *context.args])


@models_app.command("list")
def models_list(registry: RegistryOption = Path(DEFAULT_REGISTRY)) -> None:
    """List registered models and their latest version."""

    typer.echo(json.dumps(open_registry(registry).list_models(), indent=2))


@models_app.command("show")
def models_show(
    model_id: Annotated[str, typer.Argument(help="Registry id of the model.")],
    version: Annotated[Optional[int], typer.Option(help="Model version; the latest when omitted.")] = None,
    registry: RegistryOption = Path(DEFAULT_REGISTRY),
) -> None:
    """Print a model's manifest."""

    typer.echo(json.dumps(open_registry(registry).manifest(model_id, version), indent=2))


def open_registry(path: Path):
    """Open the registry, signing and verifying with LONGTAIL_REGISTRY_HMAC_KEY when it is set, as the service does."""
    from generator.registry import Registry

    key = os.environ.get("LONGTAIL_REGISTRY_HMAC_KEY")
    return Registry(path, hmac_key=key.encode() if key else None)


def parse_conditions(pairs: list[str]) -> dict[str, str]:
    """Parse COLUMN=VALUE pairs; the value may itself contain '='."""
    conditions = {}
    for pair in pairs:
        column, separator, value = pair.partition("=")
        if not separator or not column.strip():
            raise LongtailInputError(f"Invalid condition {pair!r}: write COLUMN=VALUE, for example behavior_type=buy.")
        if column.strip() in conditions and conditions[column.strip()] != value.strip():
            raise LongtailInputError(f"Conflicting conditions on {column.strip()!r}: {conditions[column.strip()]!r} and {value.strip()!r}.")
        conditions[column.strip()] = value.strip()
    return conditions


def parse_sampling_strategy(text: str) -> float | str | dict:
    text = text.strip()
    if text.startswith("{"):
        return _parse_json_object(text, "--sampling-strategy")
    try:
        return float(text)
    except ValueError:
        return text


def _parse_json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LongtailInputError(f"{option} must be a JSON object such as '{{\"buy\": 5000}}': {error}") from None
    if not isinstance(value, dict):
        raise LongtailInputError(f"{option} must be a JSON object such as '{{\"buy\": 5000}}', got {text!r}.")
    return value


def _settings(settings_class, **values):
    from pydantic import ValidationError

    try:
        return settings_class(**values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, issue['loc']))}: {issue['msg']} (got {issue.get('input')!r})" for issue in error.errors())
        raise LongtailInputError(f"Invalid training settings: {problems}") from None


class EpochProgressBar:
    """A rich progress bar fed by the engine's epoch callback."""

    def __init__(self, epochs: int):
        self.progress = Progress(
            TextColumn("epoch {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.fields[losses]}"),
            TimeRemainingColumn(), console=console, transient=False,
        )
        self.task = self.progress.add_task("training", total=epochs, losses="")

    def __enter__(self):
        self.progress.start()

        def on_epoch(progress) -> None:
            losses = f"G {progress.generator_loss:+.3f}  D {progress.discriminator_loss:+.3f}"
            self.progress.update(self.task, completed=progress.epoch, losses=losses)

        return on_epoch

    def __exit__(self, *exc_info) -> None:
        self.progress.stop()


def check_output_path(out: Path) -> None:
    """Reject an output path that is a folder or whose parent cannot be written, before any work."""
    if out.is_dir():
        raise LongtailInputError(f"Output path {out} is a folder; give a file name such as {out / 'rows.csv'}.")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise LongtailInputError(f"Cannot write to folder {parent}: permission denied. Choose another --out.")


def _write_batch(rows, fidelity: dict, out: Path, output_format: str | None, model, *, extra: dict) -> None:
    header = model.schema.source.header is not False
    delimiter = model.schema.source.delimiter or ","
    try:
        write_rows(rows, out, fmt=output_format, header=header, delimiter=delimiter)
    except OSError as error:
        raise LongtailInputError(f"Cannot write output file {out}: {error.strerror or error}. Choose another --out.") from None
    statistics = {"model_id": model.model_id, "version": model.manifest.get("version"), "rows": len(rows), **extra, "fidelity": fidelity}
    sidecar = out.with_name(out.name + ".fidelity.json")
    sidecar.write_text(json.dumps(statistics, indent=2, default=str), encoding="utf-8")


def _score(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
