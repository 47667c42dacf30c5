"""Train a longtail model on a log's minority and sample from it.

`train` runs the whole pipeline: type the data by its schema, profile the
interactions, select the minority, encode, fit the CTGAN engine, and build
the fidelity reference. `LongtailModel` samples exact conditional batches
and balancing plans, each with its fidelity statistics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generator.balancing import BalancingPlan, plan_balance
from generator.encoding import TableEncoder, encoder_from_dict, encoder_to_dict
from generator.engine import CTGANEngine, EpochProgress
from generator.errors import ConditionError, InvalidDataError, LongtailInputError, PlanError, SchemaError
from generator.fidelity import ReferenceProfile, compute_fidelity
from generator.loading import apply_schema
from generator.output import format_rows
from generator.profiling import (
    ITEM_POPULARITY,
    ITEM_TIER,
    TAIL,
    InteractionProfile,
    add_derived_columns,
    build_profile,
    hour_column,
    weekday_column,
)
from generator.sampling import (
    DEFAULT_MAX_ROWS,
    check_row_count,
    check_seed,
    plan_conditions,
    sample_rows,
    sample_unconditional,
)
from generator.schema import Role, Schema

logger = logging.getLogger(__name__)

MIN_TRAINING_ROWS = 20
ENGINE_PAC = 10
LIBRARIES = ("longtail", "ctgan", "sdv", "sdmetrics", "rdt", "torch", "numpy", "pandas", "imbalanced-learn", "scikit-learn")


class TrainingSettings(BaseModel):
    """Settings of one training run. Minority options left as None fall back to the schema's."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(default=300, ge=1, le=100_000, description="Training epochs over the selected rows.")
    batch_size: int = Field(default=500, ge=10, le=100_000, description="Rows per training batch; rounded to a multiple of 10.")
    seed: int = Field(default=0, ge=0, lt=2**32, description="Seed of every random step of fitting and of the training-time fidelity batch.")
    minority_values: list[str] | None = Field(default=None, description="Label values to learn; None uses the schema's.")
    share_threshold: float | None = Field(default=None, gt=0, lt=1, description="Classes under this share are the minority when no values are named.")
    long_tail_only: bool | None = Field(default=None, description="Learn only rows of long-tail items.")
    mode: Literal["minority", "conditional"] | None = Field(default=None, description="'minority' or 'conditional' (all rows, conditioned on the label).")
    holdout_fraction: float = Field(default=0.1, ge=0, lt=0.5, description="Share of the selected rows kept out of training as the privacy baseline.")
    max_holdout_rows: int = Field(default=1000, ge=0, description="Cap on holdout rows.")
    fidelity_rows: int = Field(default=2000, ge=1, description="Rows sampled at the end of training to record fidelity.")
    embedding_dim: int = Field(default=128, ge=1)
    generator_dim: tuple[int, ...] = (256, 256)
    discriminator_dim: tuple[int, ...] = (256, 256)
    max_transformer_rows: int = Field(default=20_000, ge=100, description="Rows the data transformer is fitted on (a seeded subsample).")


@dataclass
class SampleResult:
    rows: pd.DataFrame  # in the input's column order and formats
    fidelity: dict
    match_rate: float  # share of generated rows that met every condition before filtering
    generated: int
    typed_rows: pd.DataFrame  # typed values with derived columns, for further checks


@dataclass
class AugmentResult:
    plan: BalancingPlan
    rows: pd.DataFrame
    fidelity: dict
    match_rates: dict[str, float]


class LongtailModel:
    """A trained model: schema, interaction profile, encoder, engine and fidelity reference."""

    def __init__(
        self,
        *,
        schema: Schema,
        settings: TrainingSettings,
        profile: InteractionProfile,
        encoder: TableEncoder,
        engine: CTGANEngine,
        reference: ReferenceProfile,
        manifest: dict,
    ):
        self.schema = schema
        self.settings = settings
        self.profile = profile
        self.encoder = encoder
        self.engine = engine
        self.reference = reference
        self.manifest = manifest

    @property
    def model_id(self) -> str | None:
        return self.manifest.get("model_id")

    @property
    def minority_values(self) -> list[str]:
        return list(self.manifest["minority"]["values"])

    @property
    def trained_labels(self) -> list[str]:
        """Label values in the training rows: the minority, or every class in conditional mode."""
        return list(self.manifest["minority"]["trained_labels"])

    @property
    def condition_columns(self) -> dict[str, list[str]]:
        """Every column usable in a condition, with its known values."""
        columns = {name: self.encoder.known_values(name) for name in self.encoder.discrete}
        columns[self.schema.label] = self.trained_labels
        return columns

    def sample(
        self,
        n: int,
        *,
        conditions: dict | None = None,
        seed: int = 0,
        user_ids: Literal["new", "real"] = "new",
        max_rows: int = DEFAULT_MAX_ROWS,
        include_derived: bool = False,
    ) -> SampleResult:
        """Sample `n` rows that all satisfy `conditions`, with their fidelity statistics."""
        n = check_row_count(n, max_rows)
        seed = check_seed(seed)
        if user_ids not in ("new", "real"):
            raise InvalidDataError(f"user_ids must be 'new' or 'real', got {user_ids!r}.")
        plan = plan_conditions(self, conditions)

        if plan.conditions or len(self.trained_labels) < 2:
            sampled = sample_rows(self, n, plan, seed=seed, user_ids=user_ids)
        else:
            sampled = sample_unconditional(self, n, seed=seed, user_ids=user_ids)
        extra = self.profile.derived_columns() if include_derived else None
        rows = format_rows(sampled.rows, self.schema, self.encoder, extra_columns=extra)
        fidelity = compute_fidelity(sampled.rows[self.reference_columns()], self.reference, seed=seed)
        logger.info(
            "Sampled %d rows from model %s (conditions %s, seed %d, match rate %.4f, %d generated)",
            n, self.model_id, plan.conditions, seed, sampled.match_rate, sampled.generated,
        )
        return SampleResult(rows, fidelity, sampled.match_rate, sampled.generated, sampled.rows)

    def augment(
        self,
        sampling_strategy: float | str | dict,
        *,
        class_counts: dict[str, int] | None = None,
        conditions: dict | None = None,
        seed: int = 0,
        user_ids: Literal["new", "real"] = "new",
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> AugmentResult:
        """Sample the rows that a balancing plan requests, class by class, with their fidelity."""
        seed = check_seed(seed)
        label = self.schema.label
        if conditions is not None and not isinstance(conditions, dict):
            raise ConditionError(f"Conditions must be a mapping of column to value, got {type(conditions).__name__}.")
        if conditions and label in conditions:
            raise ConditionError(
                f"Cannot condition an augmentation on the label {label!r}: the balancing plan sets it class by class. "
                "Remove the condition, or request those rows with a sample instead."
            )
        counts = class_counts if class_counts is not None else self.profile.label_counts
        if isinstance(counts, dict) and not any(str(name) in self.trained_labels for name in counts):
            raise PlanError(
                f"class_counts {dict(counts)} has no count for {self.trained_labels}, the {label} values this model "
                "generates. Give the count of each of them in your training set (0 if it has none)."
            )
        plan = plan_balance(sampling_strategy, counts, self.trained_labels)
        if plan.total > 0:
            check_row_count(plan.total, max_rows)

        batches, match_rates = [], {}
        class_seeds = np.random.SeedSequence(seed).generate_state(max(len(plan.n_samples), 1))
        for index, (label, count) in enumerate(sorted(plan.n_samples.items())):
            extra = dict(conditions or {})
            extra[self.schema.label] = label
            result = self.sample(count, conditions=extra, seed=int(class_seeds[index]), user_ids=user_ids, max_rows=max_rows)
            batches.append(result.typed_rows)
            match_rates[label] = result.match_rate

        typed = pd.concat(batches, ignore_index=True) if batches else self._empty_typed_rows()
        rows = format_rows(typed, self.schema, self.encoder)
        fidelity = compute_fidelity(typed[self.reference_columns()], self.reference, seed=seed) if len(typed) else {}
        logger.info("Augmented model %s: plan %s, %d rows", self.model_id, plan.n_samples, len(rows))
        return AugmentResult(plan, rows, fidelity, match_rates)

    def reference_columns(self) -> list[str]:
        """Columns of typed rows that fidelity statistics see: the schema's and the derived profile columns."""
        return list(self.schema.columns) + [name for name in fidelity_column_types(self.schema, self.profile) if name not in self.schema.columns]

    def _empty_typed_rows(self) -> pd.DataFrame:
        columns = list(self.schema.columns) + self.profile.derived_columns()
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})

    # -- persistence ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write every part of the model as JSON, Parquet or torch weights; nothing is pickled."""
        directory.mkdir(parents=True, exist_ok=True)
        self.engine.save(directory / "engine")
        profile_state = self.profile.save(directory)
        state = {
            "schema": self.schema.model_dump(mode="json"),
            "settings": self.settings.model_dump(mode="json"),
            "profile": profile_state,
            "encoder": encoder_to_dict(self.encoder),
        }
        (directory / "state.json").write_text(json.dumps(state), encoding="utf-8")
        (directory / "reference.json").write_text(json.dumps(self.reference.to_dict()), encoding="utf-8")
        (directory / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LongtailModel:
        state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        schema = Schema.model_validate(state["schema"])
        profile = InteractionProfile.load(directory, state["profile"])
        return cls(
            schema=schema,
            settings=TrainingSettings.model_validate(state["settings"]),
            profile=profile,
            encoder=encoder_from_dict(state["encoder"], schema, profile),
            engine=CTGANEngine.load(directory / "engine"),
            reference=ReferenceProfile.from_dict(json.loads((directory / "reference.json").read_text(encoding="utf-8"))),
            manifest=json.loads((directory / "manifest.json").read_text(encoding="utf-8")),
        )


def train(
    data: pd.DataFrame,
    schema: Schema,
    settings: TrainingSettings | None = None,
    *,
    on_epoch: Callable[[EpochProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    source: str | None = None,
    model_id: str | None = None,
) -> LongtailModel:
    """Train a model on the minority of `data`, a raw table as `load_table` returns it."""
    settings = _validated_settings(settings)
    typed = _typed_rows(data, schema)
    profile = build_profile(typed, schema)
    rows = add_derived_columns(typed, profile)

    selection = select_minority(rows, schema, settings, profile)
    selected = rows[selection["mask"]]
    training, holdout = _split_holdout(selected, settings)

    encoder = TableEncoder(schema, profile).fit(training)
    engine = CTGANEngine(
        epochs=settings.epochs,
        batch_size=_batch_size(settings.batch_size, len(training)),
        embedding_dim=settings.embedding_dim,
        generator_dim=settings.generator_dim,
        discriminator_dim=settings.discriminator_dim,
        max_transformer_rows=settings.max_transformer_rows,
        seed=settings.seed,
    )
    logger.info("Training on %d rows (%s), %d epochs, seed %d", len(training), selection["description"], settings.epochs, settings.seed)
    engine.fit(encoder.encode(training, seed=settings.seed), encoder.discrete_columns, on_epoch=on_epoch, should_stop=should_stop)

    minority_rows = training[training[schema.label].isin(selection["values"])]
    minority_holdout = holdout[holdout[schema.label].isin(selection["values"])] if len(holdout) else None
    compared = list(schema.columns) + [name for name in fidelity_column_types(schema, profile) if name not in schema.columns]
    reference = ReferenceProfile.build(
        minority_rows[compared], fidelity_column_types(schema, profile), seed=settings.seed,
        holdout=minority_holdout[compared] if minority_holdout is not None and len(minority_holdout) else None,
    )
    manifest = _manifest(data, schema, settings, profile, selection, len(training), len(holdout), engine, source, model_id)
    model = LongtailModel(
        schema=schema, settings=settings, profile=profile, encoder=encoder, engine=engine, reference=reference, manifest=manifest
    )

    check = model.sample(min(settings.fidelity_rows, max(len(minority_rows), 1)), conditions=None, seed=settings.seed)
    manifest["fidelity"] = check.fidelity
    return model


def _validated_settings(settings) -> TrainingSettings:
    if settings is None:
        return TrainingSettings()
    if isinstance(settings, TrainingSettings):
        return settings
    if not isinstance(settings, dict):
        raise LongtailInputError(f"Training settings must be a TrainingSettings or a dict, got {type(settings).__name__}.")
    try:
        return TrainingSettings.model_validate(settings)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, issue['loc']))}: {issue['msg']}" for issue in error.errors())
        raise LongtailInputError(f"Invalid training settings: {problems}") from None


def fidelity_column_types(schema: Schema, profile: InteractionProfile) -> dict[str, str]:
    """Map each compared column to its fidelity metric family.

    Keys are not compared value by value (user ids are minted), but the item
    profile and the time features derived from them are.
    """
    kinds = {
        Role.LABEL: "categorical",
        Role.CATEGORICAL: "categorical",
        Role.BOOLEAN: "boolean",
        Role.NUMERICAL: "numerical",
        Role.DATETIME: "datetime",
    }
    types = {name: kinds[spec.role] for name, spec in schema.columns.items() if spec.role in kinds}
    if profile.items is not None:
        types[ITEM_TIER] = "categorical"
        types[ITEM_POPULARITY] = "numerical"
    for column in profile.datetime_columns:
        types[hour_column(column)] = "categorical"
        types[weekday_column(column)] = "categorical"
    return types


def _typed_rows(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    typed = apply_schema(data, schema)
    label = schema.label
    missing_label = typed[label].isna()
    if missing_label.any():
        logger.warning("Dropping %d rows with a missing %s label", int(missing_label.sum()), label)
        typed = typed[~missing_label]
    classes = typed[label].value_counts()
    if len(classes) < 2:
        raise InvalidDataError(
            f"Label column {label!r} has a single class {list(classes.index)}: a minority needs at least two classes. "
            "Check the label column in the schema."
        )
    return typed


def select_minority(rows: pd.DataFrame, schema: Schema, settings: TrainingSettings, profile: InteractionProfile) -> dict:
    """Resolve which label values and rows the model learns; return a description for the manifest."""
    label = schema.label
    options = schema.minority
    mode = settings.mode or options.mode
    long_tail_only = settings.long_tail_only if settings.long_tail_only is not None else options.long_tail_only
    threshold = settings.share_threshold or options.share_threshold
    counts = pd.Series(profile.label_counts)
    shares = counts / counts.sum()

    named = settings.minority_values or options.values
    if named:
        values = [str(value) for value in named]
        unknown = [value for value in values if value not in profile.label_counts]
        if unknown:
            raise InvalidDataError(
                f"Minority value(s) {unknown} not found in label column {label!r}, whose values are "
                f"{sorted(profile.label_counts)}. Name values that occur in the data."
            )
        how = "named"
    else:
        values = [str(value) for value in shares[shares < threshold].index]
        if not values:
            rarest = shares.idxmin()
            raise InvalidDataError(
                f"No class of {label!r} is under the share threshold {threshold}: the rarest is {rarest!r} at "
                f"{shares[rarest]:.1%}. Name the minority values (minority.values in the schema) or raise the share threshold."
            )
        how = f"share under {threshold}"
    if len(values) == len(profile.label_counts) and mode == "minority":
        raise InvalidDataError(
            f"Minority values {values} cover every class of {label!r}; the minority must leave a majority. Name fewer values."
        )

    mask = rows[label].isin(values) if mode == "minority" else pd.Series(True, index=rows.index)
    if long_tail_only:
        if profile.items is None:
            raise SchemaError("long_tail_only needs a column with role 'item_key' in the schema to know item tiers.")
        mask &= rows[ITEM_TIER] == TAIL
    selected = int(mask.sum())
    if selected < MIN_TRAINING_ROWS:
        raise InvalidDataError(
            f"Only {selected} rows match the minority selection {values} (mode {mode}, long tail only {long_tail_only}); "
            f"training needs at least {MIN_TRAINING_ROWS}."
        )
    trained = values if mode == "minority" else sorted(str(value) for value in rows.loc[mask, label].unique())
    return {
        "mask": mask,
        "values": values,
        "trained_labels": trained,
        "mode": mode,
        "long_tail_only": bool(long_tail_only),
        "selected_by": how,
        "description": f"{mode} mode, {label} in {values}" + (", long-tail items only" if long_tail_only else ""),
    }


def _split_holdout(selected: pd.DataFrame, settings: TrainingSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    size = min(int(len(selected) * settings.holdout_fraction), settings.max_holdout_rows)
    if size < 1 or len(selected) - size < MIN_TRAINING_ROWS:
        return selected, selected.iloc[0:0]
    order = np.random.default_rng(settings.seed).permutation(len(selected))
    return selected.iloc[np.sort(order[size:])], selected.iloc[np.sort(order[:size])]


def _batch_size(requested: int, rows: int) -> int:
    """ctgan's discriminator packs `pac` rows together, so the batch must be a multiple of it and at most the data."""
    fitting = min(requested, rows)
    return max(ENGINE_PAC, fitting - fitting % ENGINE_PAC)


def data_fingerprint(data: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(data, index=False).to_numpy()
    return "sha256:" + hashlib.sha256(hashed.tobytes() + "|".join(map(str, data.columns)).encode()).hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _manifest(data, schema, settings, profile, selection, training_rows, holdout_rows, engine, source, model_id) -> dict:
    return {
        "model_id": model_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "schema": schema.model_dump(mode="json"),
        "settings": settings.model_dump(mode="json"),
        "seed": settings.seed,
        "minority": {key: value for key, value in selection.items() if key != "mask"},
        "data": {
            "source": source,
            "fingerprint": data_fingerprint(data),
            "rows": int(len(data)),
            "columns": [str(column) for column in data.columns],
            "training_rows": training_rows,
            "holdout_rows": holdout_rows,
        },
        "profile": profile.summary(),
        "libraries": library_versions(),
        "losses": list(getattr(engine, "losses_", [])),
        "fidelity": None,
    }
