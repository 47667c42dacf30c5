"""Exact conditional sampling: every returned row satisfies every condition.

The engine's conditional vector only raises the probability of the requested
value, so sampling generates in rounds, decodes, keeps the rows that meet
all conditions and tops up until it has enough. The number of rounds and the
rows per round are bounded; past that it raises SamplingError.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from generator.encoding import RARE, TableEncoder
from generator.errors import ConditionError, LimitExceededError, LongtailInputError, SamplingError
from generator.loading import FALSE_TOKENS, TRUE_TOKENS
from generator.profiling import ITEM_TIER
from generator.schema import Role

logger = logging.getLogger(__name__)

MAX_ROUNDS = 20
MAX_ROWS_PER_ROUND = 100_000
MIN_ROWS_PER_ROUND = 256
DEFAULT_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class ConditionPlan:
    """Validated conditions, the one the engine's conditional vector carries, and forced rare values."""

    conditions: dict[str, str]
    engine_condition: tuple[str, str] | None
    forced: dict[str, str]


def plan_conditions(model, conditions: dict | None) -> ConditionPlan:
    """Validate conditions against what the model saw in training and pick the engine condition.

    Raises ConditionError naming an unknown column or value and listing the valid ones.
    """
    if not conditions:
        return ConditionPlan({}, None, {})
    if not isinstance(conditions, dict):
        raise ConditionError(f"Conditions must be a mapping of column to value, got {type(conditions).__name__}.")

    choices = model.condition_columns
    validated: dict[str, str] = {}
    for column, value in conditions.items():
        validated[column] = _validate_condition(model, choices, str(column), value)

    _check_item_conditions(model, validated)
    encoder: TableEncoder = model.encoder
    forced = {}
    candidates = []
    for column, value in validated.items():
        model_value = encoder.model_value(column, value)
        if model_value == RARE:
            forced[column] = value
        frequency = model.engine.value_frequencies(column).get(model_value, 0.0)
        candidates.append((frequency, column, model_value))
    # The rarest requested value goes into the conditional vector: it is the one the generator meets least by chance.
    _, column, model_value = min(candidates)
    return ConditionPlan(validated, (column, model_value), forced)


def _check_item_conditions(model, conditions: dict[str, str]) -> None:
    """Raise at once when no real item has the requested tier and item attributes together.

    Every returned row carries a real item, so such conditions could only fail
    after the whole generation budget.
    """
    items = model.profile.items
    if items is None:
        return
    item_columns = {"tier": conditions[ITEM_TIER]} if ITEM_TIER in conditions else {}
    item_columns.update({name: conditions[name] for name in model.profile.item_attributes if name in conditions})
    if len(item_columns) < 2:
        return
    mask = np.ones(len(items), dtype=bool)
    for column, value in item_columns.items():
        mask &= items[column].to_numpy(dtype=object) == value
    if not mask.any():
        requested = {ITEM_TIER if column == "tier" else column: value for column, value in item_columns.items()}
        raise ConditionError(
            f"No item of the log matches {requested} together, and every sampled row carries a real item. "
            "Drop one of these conditions."
        )


def _validate_condition(model, choices: dict[str, list[str]], column: str, value) -> str:
    schema = model.schema
    if column not in choices:
        spec = schema.columns.get(column)
        if spec is not None and spec.role in (Role.USER_KEY, Role.ITEM_KEY):
            raise ConditionError(
                f"Cannot condition on key column {column!r}: keys are drawn from the profile. "
                f"Condition on {ITEM_TIER!r} or an item attribute instead. Columns you can condition on: {sorted(choices)}."
            )
        if spec is not None:
            raise ConditionError(
                f"Cannot condition on {spec.role.value} column {column!r}: conditions take discrete columns. "
                f"Columns you can condition on: {sorted(choices)}."
            )
        raise ConditionError(f"Unknown condition column {column!r}. Columns you can condition on: {sorted(choices)}.")

    known = choices[column]
    text = _normalise_value(value)
    if text in known:
        return text
    if schema.columns.get(column) is not None and schema.columns[column].role is Role.BOOLEAN:
        matching = [option for option in known if _same_truth(option, text)]
        if matching:
            return matching[0]

    if column == schema.label and text in model.profile.label_counts:
        raise ConditionError(
            f"Model {model.model_id!r} was trained on {column} values {known}, so it cannot generate {text!r}. "
            f"Train in conditional mode, or with {text!r} among the minority values."
        )
    shown = known[:20]
    more = f" and {len(known) - 20} more" if len(known) > 20 else ""
    raise ConditionError(f"Unknown value {text!r} for condition column {column!r}. Known values: {shown}{more}.")


def _same_truth(first: str, second: str) -> bool:
    """Tell whether two boolean spellings (true/yes/1, false/no/0, any case) mean the same value."""
    for tokens in (TRUE_TOKENS, FALSE_TOKENS):
        if first.lower() in tokens and second.lower() in tokens:
            return True
    return False


def _normalise_value(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_row_count(n, max_rows: int) -> int:
    """Validate a requested number of rows against 1..max_rows."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise LongtailInputError(f"The number of rows must be an integer, got {n!r}.")
    if n <= 0:
        raise LongtailInputError(f"The number of rows must be at least 1, got {n}.")
    if n > max_rows:
        raise LimitExceededError(
            f"Requested {n} rows, above the limit of {max_rows} rows per request (max_rows). "
            "Request fewer rows per call, split over several calls with different seeds.",
            limit_name="max_rows",
            limit=max_rows,
            requested=int(n),
        )
    return int(n)


def check_seed(seed) -> int:
    """Validate a seed: an integer from 0 to 2**32 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise LongtailInputError(f"The seed must be an integer from 0 to 4294967295, got {seed!r}.")
    return int(seed)


@dataclass
class SampledRows:
    rows: pd.DataFrame  # typed rows with derived columns
    generated: int
    matched: int

    @property
    def match_rate(self) -> float:
        return self.matched / self.generated if self.generated else 1.0


def sample_unconditional(model, n: int, *, seed: int, user_ids: str = "new") -> SampledRows:
    """Sample `n` rows whose label shares are the training shares, up to rounding.

    The rows of each label value come from an exact conditional sample, so the
    label shares do not depend on how well the generator learned them. The
    counts are apportioned by largest remainder and the rows shuffled.
    """
    label = model.schema.label
    frequencies = model.engine.value_frequencies(label)
    values = sorted(frequencies)
    shares = np.array([frequencies[value] for value in values], dtype="float64")
    counts = _apportion(n, shares / shares.sum())

    seeds = np.random.SeedSequence(seed).generate_state(len(values) + 1)
    parts, generated, matched = [], 0, 0
    for index, (value, count) in enumerate(zip(values, counts)):
        if count == 0:
            continue
        plan = ConditionPlan({label: value}, (label, value), {})
        part = sample_rows(model, int(count), plan, seed=int(seeds[index]), user_ids=user_ids)
        parts.append(part.rows)
        generated += part.generated
        matched += part.matched
    rows = pd.concat(parts, ignore_index=True)
    order = np.random.default_rng(int(seeds[-1])).permutation(len(rows))
    return SampledRows(rows=rows.iloc[order].reset_index(drop=True), generated=generated, matched=matched)


def _apportion(total: int, shares: np.ndarray) -> np.ndarray:
    exact = shares * total
    counts = np.floor(exact).astype("int64")
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: total - int(counts.sum())]] += 1
    return counts


def sample_rows(model, n: int, plan: ConditionPlan, *, seed: int, user_ids: str = "new") -> SampledRows:
    """Generate rows in bounded rounds until `n` of them satisfy every condition."""
    rng = np.random.default_rng(seed)
    round_seeds = np.random.SeedSequence(seed).generate_state(MAX_ROUNDS)
    collected: list[pd.DataFrame] = []
    have = generated = matched = 0

    for round_index in range(MAX_ROUNDS):
        rate = matched / generated if generated else 1.0
        needed = n - have
        batch = int(min(MAX_ROWS_PER_ROUND, max(MIN_ROWS_PER_ROUND, np.ceil(needed / max(rate, 1e-4) * 1.1))))
        model_rows = model.engine.sample(batch, condition=plan.engine_condition, seed=int(round_seeds[round_index]))
        rows = model.encoder.decode(model_rows, rng=rng, forced=plan.forced, user_ids=user_ids)

        mask = np.ones(len(rows), dtype=bool)
        for column, value in plan.conditions.items():
            mask &= rows[column].to_numpy(dtype=object) == value
        generated += len(rows)
        matched += int(mask.sum())
        collected.append(rows[mask])
        have += int(mask.sum())
        logger.debug("Sampling round %d: %d generated, %d matched", round_index + 1, len(rows), int(mask.sum()))
        if have >= n:
            break

    if have < n:
        raise SamplingError(
            f"The model produced only {have} of {n} rows satisfying {plan.conditions} after generating {generated} rows "
            f"in {MAX_ROUNDS} rounds (match rate {matched / generated:.4%}). Relax the conditions, request fewer rows, "
            "or train longer or in conditional mode."
        )
    rows = pd.concat(collected, ignore_index=True).head(n)
    return SampledRows(rows=rows, generated=generated, matched=matched)
