"""Turn typed log rows into the GAN's model space and generated rows back.

Model space has one string column per discrete column and one float column
per continuous one. Keys are replaced by their profile: an item becomes its
popularity and long-tail tier, a user their activity. Decoding maps generated
profiles back to real ids, expands the rare bucket to real values, and keeps
numbers and timestamps in the training range.

Two properties of real numerical columns that CTGAN's mode-specific
normalisation does not reproduce are encoded explicitly. A value that makes up
at least POINT_MASS_MIN_SHARE of a column's rows (zero capital gain, a 40-hour
week) is a point mass: a discrete column records whether a row takes it, so
decoded rows hold that exact value instead of noise around it. A numerical
column whose value is fixed by the category of a categorical column (Adult's
education_num by education) is left out of model space and decoded from that
category.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from generator.profiling import (
    HEAD,
    ITEM_POPULARITY,
    ITEM_TIER,
    TAIL,
    USER_ACTIVITY,
    InteractionProfile,
    hour_column,
    time_features,
    weekday_column,
)
from generator.schema import Role, Schema

logger = logging.getLogger(__name__)

RARE = "__rare__"
MISSING = "__missing__"
MISSING_INDICATOR_SUFFIX = "__is_missing"
MAX_DECIMALS = 6
POINT_MASS_SUFFIX = "__point_mass"
NOT_POINT_MASS = "__other__"
# NOTE: 5% is a judgement, not a tuned value: on Adult's >50K rows it selects zero capital gain and loss and
# four weekly hours, and no single age.
POINT_MASS_MIN_SHARE = 0.05
MIN_ROWS_PER_CATEGORY = 10


@dataclass
class ContinuousSpec:
    """Range and precision of one continuous column, learned from the training rows."""

    name: str
    minimum: float
    maximum: float
    integer: bool
    decimals: int
    fill: float
    has_missing: bool
    log_scale: bool = False
    point_masses: list[float] = field(default_factory=list)
    derived_from: str | None = None
    derived_values: dict[str, float] = field(default_factory=dict)


@dataclass
class DiscreteSpec:
    """Kept values of one discrete column and the real values behind its rare bucket."""

    name: str
    kept: list[str]
    rare_values: list[str] = field(default_factory=list)
    rare_weights: list[float] = field(default_factory=list)
    has_missing: bool = False


class TableEncoder:
    """Encode typed rows (with derived columns) into model space and decode generated rows."""

    def __init__(self, schema: Schema, profile: InteractionProfile):
        self.schema = schema
        self.profile = profile
        self.continuous: dict[str, ContinuousSpec] = {}
        self.discrete: dict[str, DiscreteSpec] = {}

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, rows: pd.DataFrame) -> TableEncoder:
        """Learn ranges, precision and kept values from the training rows."""
        cap = self.schema.profile.categorical_cap
        for name in self.discrete_source_columns():
            self.discrete[name] = _fit_discrete(rows[name], name, cap)
        numerical = self.schema.columns_of_role(Role.NUMERICAL)
        categorical = self.schema.columns_of_role(Role.CATEGORICAL)
        for name in self.continuous_source_columns():
            log_scale = name in (ITEM_POPULARITY, USER_ACTIVITY)
            spec = _fit_continuous(rows[name], name, log_scale=log_scale)
            if name in numerical:
                spec.derived_from, spec.derived_values = _find_determining_column(rows, name, categorical)
                if spec.derived_from is None:
                    spec.point_masses = _find_point_masses(rows[name])
            self.continuous[name] = spec
        return self

    def discrete_source_columns(self) -> list[str]:
        columns = self.schema.columns_of_role(Role.LABEL, Role.CATEGORICAL, Role.BOOLEAN)
        if self.profile.items is not None:
            columns.append(ITEM_TIER)
        for column in self.profile.datetime_columns:
            columns += [hour_column(column), weekday_column(column)]
        return columns

    def continuous_source_columns(self) -> list[str]:
        columns = self.schema.columns_of_role(Role.NUMERICAL, Role.DATETIME)
        if self.profile.items is not None:
            columns.append(ITEM_POPULARITY)
        if self.profile.users is not None:
            columns.append(USER_ACTIVITY)
        return columns

    @property
    def discrete_columns(self) -> list[str]:
        """Discrete columns of model space, missing-value and point-mass indicators included."""
        indicators = []
        for name, spec in self._modelled_continuous().items():
            if spec.has_missing:
                indicators.append(name + MISSING_INDICATOR_SUFFIX)
            if spec.point_masses:
                indicators.append(name + POINT_MASS_SUFFIX)
        return list(self.discrete) + indicators

    def _modelled_continuous(self) -> dict[str, ContinuousSpec]:
        """Continuous columns that the GAN generates, without those decoded from a categorical column."""
        return {name: spec for name, spec in self.continuous.items() if spec.derived_from is None}

    # -- encoding ------------------------------------------------------------------------------

    def encode(self, rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
        """Return model-space columns for typed rows that carry the derived columns.

        `seed` draws the placeholder values of rows at a point mass.
        """
        rng = np.random.default_rng(seed)
        encoded = {}
        for name, spec in self.discrete.items():
            encoded[name] = self.model_values(name, rows[name])
        for name, spec in self._modelled_continuous().items():
            values = rows[name].to_numpy(dtype="float64")
            missing = np.isnan(values)
            values = np.where(missing, spec.fill, values)
            if spec.point_masses:
                values, encoded[name + POINT_MASS_SUFFIX] = _encode_point_masses(values, missing, spec, rng)
            encoded[name] = np.log1p(values) if spec.log_scale else values
            if spec.has_missing:
                encoded[name + MISSING_INDICATOR_SUFFIX] = np.where(missing, "1", "0").astype(object)
        return pd.DataFrame(encoded, index=rows.index)

    def model_values(self, name: str, values: pd.Series) -> np.ndarray:
        """Map typed values of a discrete column to model-space values (rare bucket, missing token)."""
        spec = self.discrete[name]
        text = values.astype(object)
        kept = pd.Index(spec.kept)
        mapped = np.where(kept.get_indexer(text.fillna(MISSING)) >= 0, text.fillna(MISSING), RARE)
        return np.where(text.isna().to_numpy(), MISSING, mapped).astype(object)

    def model_value(self, name: str, value: str) -> str:
        spec = self.discrete[name]
        return value if value in spec.kept else RARE

    def known_values(self, name: str) -> list[str]:
        """Return every real value of a discrete column seen in training, kept and rare."""
        spec = self.discrete[name]
        kept = [value for value in spec.kept if value not in (RARE, MISSING)]
        return kept + list(spec.rare_values)

    # -- decoding ------------------------------------------------------------------------------

    def decode(
        self,
        generated: pd.DataFrame,
        *,
        rng: np.random.Generator,
        forced: dict[str, str] | None = None,
        user_ids: str = "new",
    ) -> pd.DataFrame:
        """Return typed rows with derived columns for model-space rows.

        `forced` maps a discrete column to a real value that replaces its rare
        bucket, so that a condition on a rare value draws that value.
        """
        forced = forced or {}
        rows = pd.DataFrame(index=generated.index)
        for name, spec in self._modelled_continuous().items():
            rows[name] = _decode_continuous(generated, spec)
        for name, spec in self.discrete.items():
            rows[name] = _decode_discrete(generated[name].to_numpy(dtype=object), spec, rng, forced.get(name))
        for name, spec in self.continuous.items():
            if spec.derived_from is not None:
                rows[name] = rows[spec.derived_from].map(spec.derived_values).to_numpy(dtype="float64")
        rows = rows[[*self.continuous, *self.discrete]]

        for column in self.profile.datetime_columns:
            self._align_timestamps(rows, column)
        if self.profile.items is not None:
            self._resolve_items(rows, generated, rng, forced)
        if self.profile.users is not None:
            self._resolve_users(rows, rng, user_ids)
        return rows

    def _align_timestamps(self, rows: pd.DataFrame, column: str) -> None:
        """Move each timestamp to the generated hour and weekday, within the training range, then rederive both."""
        spec = self.continuous[column]
        seconds = rows[column].to_numpy(dtype="float64")
        hour_name, weekday_name = hour_column(column), weekday_column(column)
        hours = pd.to_numeric(rows[hour_name], errors="coerce").to_numpy()
        weekday_index = pd.Index(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]).get_indexer(rows[weekday_name])
        valid = ~np.isnan(seconds) & ~np.isnan(hours) & (weekday_index >= 0)

        days = np.floor_divide(np.where(valid, seconds, 0), 86400)
        current_weekday = (days + 3) % 7
        shift = (weekday_index - current_weekday + 3) % 7 - 3  # nearest day with the generated weekday
        within_hour = np.mod(np.where(valid, seconds, 0), 3600)
        moved = (days + shift) * 86400 + np.where(valid, hours, 0) * 3600 + within_hour
        for step in (7, -7):
            outside = (moved < spec.minimum) | (moved > spec.maximum)
            moved = np.where(outside & (moved + step * 86400 >= spec.minimum) & (moved + step * 86400 <= spec.maximum), moved + step * 86400, moved)
        moved = np.clip(moved, spec.minimum, spec.maximum)
        seconds = np.where(valid, np.floor(moved), seconds)

        rows[column] = seconds
        hour_text, weekday_text = time_features(seconds)
        rows[hour_name] = hour_text
        rows[weekday_name] = weekday_text

    def _resolve_items(self, rows: pd.DataFrame, generated: pd.DataFrame, rng: np.random.Generator, forced: dict[str, str]) -> None:
        """Draw a real item whose tier, attributes and popularity match each generated row.

        Attributes are matched on their decoded values, so a rare bucket expands
        by the training rows' frequencies before the item is drawn. When no item
        has that exact combination, the item is drawn from the row's tier and
        model-space attributes, then from its tier alone, and its own attribute
        values replace the generated ones.
        """
        items = self.profile.items
        attributes = self.profile.item_attributes
        exact_groups, model_groups, tier_groups = self._item_groups()

        decoded = [rows[ITEM_TIER].to_numpy(dtype=object)] + [rows[name].to_numpy(dtype=object) for name in attributes]
        in_model_space = [generated[name].to_numpy(dtype=object) for name in attributes]
        key_frame = pd.DataFrame({f"k{index}": key for index, key in enumerate(decoded + in_model_space)})
        key_frame = key_frame.fillna(MISSING)
        chosen = np.empty(len(rows), dtype=object)
        counts = items["count"].to_numpy()

        for key, positions in key_frame.groupby(list(key_frame.columns), sort=True).indices.items():
            key = key if isinstance(key, tuple) else (key,)
            exact_key, model_key = key[: 1 + len(attributes)], (key[0],) + key[1 + len(attributes):]
            candidates = exact_groups.get(exact_key)
            if candidates is None and not forced:
                candidates = model_groups.get(model_key)
            if candidates is None:
                candidates = tier_groups.get(key[0], np.arange(len(items)))
            popularity = rows[ITEM_POPULARITY].to_numpy()[positions]
            chosen[positions] = _draw_nearest(items.index[candidates], counts[candidates], popularity, rng)

        rows[self.profile.item_key] = chosen
        rows[ITEM_TIER] = items["tier"].reindex(chosen).to_numpy(dtype=object)
        rows[ITEM_POPULARITY] = items["count"].reindex(chosen).to_numpy(dtype="float64")
        for name in attributes:
            rows[name] = items[name].reindex(chosen).to_numpy(dtype=object)

    def _item_groups(self) -> tuple[dict, dict, dict]:
        """Return item positions by (tier, attribute values), by (tier, model-space values) and by tier; built once."""
        if getattr(self, "_cached_item_groups", None) is None:
            items = self.profile.items
            attributes = self.profile.item_attributes
            frame = pd.DataFrame({"tier": items["tier"].to_numpy(dtype=object)})
            for name in attributes:
                frame[f"value_{name}"] = items[name].to_numpy(dtype=object)
                frame[f"model_{name}"] = self.model_values(name, items[name])
            frame = frame.fillna(MISSING)
            exact = _group_positions(frame, ["tier"] + [f"value_{name}" for name in attributes])
            model = _group_positions(frame, ["tier"] + [f"model_{name}" for name in attributes])
            tiers = {tier: positions for tier, positions in frame.groupby("tier").indices.items()}
            self._cached_item_groups = (exact, model, tiers)
        return self._cached_item_groups

    def _resolve_users(self, rows: pd.DataFrame, rng: np.random.Generator, user_ids: str) -> None:
        users = self.profile.users
        user_key = self.profile.user_key
        activity = rows[USER_ACTIVITY].to_numpy()
        if user_ids == "real":
            chosen = _draw_nearest(users.index, users["count"].to_numpy(), activity, rng)
            rows[user_key] = chosen
            rows[USER_ACTIVITY] = users["count"].reindex(chosen).to_numpy(dtype="float64")
            return
        rows[user_key] = mint_user_ids(users.index, len(rows), rng)


def mint_user_ids(real_ids: pd.Index, count: int, rng: np.random.Generator) -> np.ndarray:
    """Return new pseudonymous user ids that cannot collide with a real id.

    Numeric ids get numbers with more digits than any real id, so they stay
    numeric; other ids get a `synthetic-` prefix.
    """
    # NOTE: every row gets its own id, so synthetic users have one interaction each.
    text = real_ids.astype(str)
    if len(text) and text.str.fullmatch(r"\d+").all():
        digits = int(text.str.len().max()) + 1
        low = 10 ** digits
        return (low + rng.integers(0, 9 * low, size=count)).astype(str).astype(object)
    return np.array([f"synthetic-{value:012x}" for value in rng.integers(0, 2**48, size=count)], dtype=object)


def _group_positions(frame: pd.DataFrame, columns: list[str]) -> dict[tuple, np.ndarray]:
    groups = frame.groupby(columns, sort=False).indices
    return {key if isinstance(key, tuple) else (key,): positions for key, positions in groups.items()}


def _draw_nearest(ids: pd.Index, counts: np.ndarray, wanted: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each wanted count, draw uniformly among the ids whose count is the nearest one available."""
    order = np.argsort(counts, kind="stable")
    sorted_ids = np.asarray(ids, dtype=object)[order]
    sorted_counts = counts[order].astype("float64")
    levels = np.unique(sorted_counts)

    position = np.clip(np.searchsorted(levels, wanted), 1, max(len(levels) - 1, 1))
    below = levels[position - 1]
    above = levels[np.minimum(position, len(levels) - 1)]
    nearest = np.where(np.abs(wanted - below) <= np.abs(above - wanted), below, above)
    nearest = np.where(np.isnan(wanted), levels[0], nearest)

    low = np.searchsorted(sorted_counts, nearest, side="left")
    high = np.searchsorted(sorted_counts, nearest, side="right")
    picks = low + np.floor(rng.random(len(wanted)) * (high - low)).astype("int64")
    return sorted_ids[picks]


def _fit_discrete(values: pd.Series, name: str, cap: int) -> DiscreteSpec:
    counts = values.value_counts(dropna=True)
    has_missing = bool(values.isna().any())
    kept = [str(value) for value in counts.index[:cap]]
    rare = counts.iloc[cap:]
    if len(rare):
        kept.append(RARE)
    if has_missing:
        kept.append(MISSING)
    weights = (rare / rare.sum()).tolist() if len(rare) else []
    return DiscreteSpec(name, kept, [str(value) for value in rare.index], weights, has_missing)


def _fit_continuous(values: pd.Series, name: str, *, log_scale: bool) -> ContinuousSpec:
    array = values.to_numpy(dtype="float64")
    present = array[~np.isnan(array)]
    integer = bool(np.all(np.mod(present, 1) == 0))
    decimals = 0 if integer else _decimals(present)
    return ContinuousSpec(
        name=name,
        minimum=float(present.min()),
        maximum=float(present.max()),
        integer=integer,
        decimals=decimals,
        fill=float(np.median(present)),
        has_missing=bool(np.isnan(array).any()),
        log_scale=log_scale,
    )


def _find_point_masses(values: pd.Series) -> list[float]:
    """Return the values that make up at least POINT_MASS_MIN_SHARE of the present rows, most frequent first."""
    shares = values.dropna().value_counts(normalize=True)
    return [float(value) for value in shares.index[shares.to_numpy() >= POINT_MASS_MIN_SHARE]]


def _find_determining_column(rows: pd.DataFrame, name: str, categorical: list[str]) -> tuple[str | None, dict[str, float]]:
    """Return a categorical column whose every category fixes the value of numerical column `name`, and that map.

    Only complete columns qualify. The numerical column must take at least two
    values, and the categorical column must average MIN_ROWS_PER_CATEGORY rows
    per category, so that neither a constant column nor a column of nearly
    unique categories passes by chance.
    """
    values = rows[name]
    if values.isna().any() or values.nunique() < 2:
        return None, {}
    for candidate in categorical:
        categories = rows[candidate]
        if categories.isna().any() or categories.nunique() * MIN_ROWS_PER_CATEGORY > len(rows):
            continue
        grouped = values.groupby(categories.to_numpy(dtype=object))
        if (grouped.nunique() == 1).all():
            return candidate, {str(category): float(value) for category, value in grouped.first().items()}
    return None, {}


def _encode_point_masses(
    values: np.ndarray, missing: np.ndarray, spec: ContinuousSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return the values with point-mass rows replaced by other real values, and the point-mass indicator.

    The replacement draws from the rows off every point mass, so the mixture
    fits the spread part of the column, and decoding restores the exact value.
    """
    indicator = np.full(len(values), NOT_POINT_MASS, dtype=object)
    at_mass = np.zeros(len(values), dtype=bool)
    for mass in spec.point_masses:
        rows = ~missing & (values == mass)
        indicator[rows] = _point_mass_label(mass)
        at_mass |= rows

    spread = values[~missing & ~at_mass]
    if len(spread) and at_mass.any():
        values = values.copy()
        values[at_mass] = rng.choice(spread, size=int(at_mass.sum()))
    return values, indicator


def _point_mass_label(value: float) -> str:
    return repr(float(value))


def _decimals(values: np.ndarray) -> int:
    sample = values[:10_000]
    for decimals in range(1, MAX_DECIMALS + 1):
        if np.allclose(np.round(sample, decimals), sample, rtol=0, atol=1e-9):
            return decimals
    return MAX_DECIMALS


def _decode_continuous(generated: pd.DataFrame, spec: ContinuousSpec) -> np.ndarray:
    values = generated[spec.name].to_numpy(dtype="float64")
    if spec.log_scale:
        values = np.expm1(values)
    values = np.clip(values, spec.minimum, spec.maximum)
    values = np.round(values) if spec.integer else np.round(values, spec.decimals)
    if spec.point_masses:
        labels = generated[spec.name + POINT_MASS_SUFFIX].to_numpy(dtype=object)
        for mass in spec.point_masses:
            values = np.where(labels == _point_mass_label(mass), mass, values)
    if spec.has_missing:
        missing = generated[spec.name + MISSING_INDICATOR_SUFFIX].to_numpy(dtype=object) == "1"
        values = np.where(missing, np.nan, values)
    return values


def _decode_discrete(values: np.ndarray, spec: DiscreteSpec, rng: np.random.Generator, forced: str | None) -> np.ndarray:
    decoded = values.astype(object).copy()
    rare = decoded == RARE
    if rare.any():
        if forced is not None:
            decoded[rare] = forced
        else:
            decoded[rare] = rng.choice(np.asarray(spec.rare_values, dtype=object), size=int(rare.sum()), p=spec.rare_weights)
    decoded[decoded == MISSING] = None
    return decoded


def encoder_to_dict(encoder: TableEncoder) -> dict:
    return {
        "continuous": [asdict(spec) for spec in encoder.continuous.values()],
        "discrete": [asdict(spec) for spec in encoder.discrete.values()],
    }


def encoder_from_dict(data: dict, schema: Schema, profile: InteractionProfile) -> TableEncoder:
    encoder = TableEncoder(schema, profile)
    encoder.continuous = {spec["name"]: ContinuousSpec(**spec) for spec in data["continuous"]}
    encoder.discrete = {spec["name"]: DiscreteSpec(**spec) for spec in data["discrete"]}
    return encoder


__all__ = ["HEAD", "MISSING", "RARE", "TAIL", "TableEncoder", "encoder_from_dict", "encoder_to_dict", "mint_user_ids"]
