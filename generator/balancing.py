"""Balancing plans: how many synthetic rows of each class a `sampling_strategy` requests.

The semantics are imbalanced-learn's over-sampling `sampling_strategy`
(`imblearn.utils.check_sampling_strategy(..., sampling_type="over-sampling")`,
imbalanced-learn 0.14), extended from two classes to several:

- a float `r` in (0, 1] brings every class but the majority to
  `int(n_majority * r)` rows, computed as `int(n_majority * r - n_class)`
  synthetic rows. imbalanced-learn accepts a float for binary targets only.
- `"minority"`, `"not minority"`, `"not majority"`, `"all"` and `"auto"`
  bring the selected classes to the majority count.
- a dict maps classes to their target counts.

The majority and the minority are the first class with the maximum and the
minimum count in sorted class order, as in imbalanced-learn. A class with a
count of 0 is allowed: it is a class the caller's training set lacks.

The model can only generate the classes it was trained on (`generatable`). A
string or float strategy that selects other classes lists them in
`not_generated` with the reason. A dict that requests rows of them raises
`PlanError`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from generator.errors import PlanError

logger = logging.getLogger(__name__)

STRING_STRATEGIES = ("minority", "not minority", "not majority", "all", "auto")


@dataclass(frozen=True)
class BalancingPlan:
    """Synthetic rows to generate per class for one `sampling_strategy`."""

    sampling_strategy: float | str | dict[str, int]
    class_counts: dict[str, int]
    target_counts: dict[str, int]
    n_samples: dict[str, int]
    not_generated: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Total number of synthetic rows the plan generates."""
        return sum(self.n_samples.values())

    def to_dict(self) -> dict[str, Any]:
        """Convert the plan to a JSON-serialisable dict."""
        strategy = self.sampling_strategy
        if isinstance(strategy, dict):
            strategy = dict(strategy)

        return {
            "sampling_strategy": strategy,
            "class_counts": dict(self.class_counts),
            "target_counts": dict(self.target_counts),
            "n_samples": dict(self.n_samples),
            "not_generated": dict(self.not_generated),
            "total": self.total,
        }


def plan_balance(
    sampling_strategy: float | str | Mapping[str, int],
    class_counts: Mapping[str, int],
    generatable: Sequence[str],
) -> BalancingPlan:
    """Plan the synthetic rows per class that `sampling_strategy` requires.

    `class_counts` contains the rows per class before balancing, `generatable` the
    classes the model can generate. Raises `PlanError` for an invalid strategy
    or counts, and for a target the model cannot reach by adding rows.
    """
    counts = _validate_class_counts(class_counts)
    generatable_set = {str(label) for label in generatable}

    if isinstance(sampling_strategy, str):
        required = _required_for_string(sampling_strategy, counts)
        strategy: float | str | dict[str, int] = sampling_strategy
    elif isinstance(sampling_strategy, Mapping):
        strategy = _validate_target_dict(sampling_strategy, counts)
        required = _required_for_dict(strategy, counts, generatable_set)
    elif isinstance(sampling_strategy, Real) and not isinstance(sampling_strategy, bool):
        strategy = float(sampling_strategy)
        required = _required_for_float(strategy, counts, generatable_set)
    else:
        raise PlanError(
            f"Invalid sampling_strategy {sampling_strategy!r} of type {type(sampling_strategy).__name__}: "
            f"use a float in (0, 1], one of {list(STRING_STRATEGIES)}, or a dict of target counts per class."
        )

    plan = _build_plan(strategy, counts, required, generatable_set)
    logger.debug(
        "Planned %d synthetic rows for sampling_strategy=%r: %s", plan.total, strategy, plan.n_samples
    )
    return plan


def _validate_class_counts(class_counts: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(class_counts, Mapping) or not class_counts:
        raise PlanError(
            f"class_counts {class_counts!r} is empty or not a mapping: give the rows per class, "
            "for example {'pv': 75693, 'buy': 1749}."
        )

    counts: dict[str, int] = {}
    for label, count in class_counts.items():
        if isinstance(count, bool) or not isinstance(count, Integral) or count < 0:
            raise PlanError(
                f"Invalid count {count!r} for class {label!r} in class_counts: counts must be integers >= 0."
            )
        counts[str(label)] = int(count)

    if len(counts) < 2:
        raise PlanError(
            f"class_counts {counts} has {len(counts)} class: balancing needs at least 2 classes."
        )
    if max(counts.values()) == 0:
        raise PlanError(f"class_counts {counts} are all 0: give at least one class with rows.")

    # imbalanced-learn counts classes with np.unique, which sorts them, so ties
    # between classes resolve to the first class in sorted order.
    return dict(sorted(counts.items()))


def _majority(counts: dict[str, int]) -> str:
    return max(counts, key=counts.__getitem__)


def _minority(counts: dict[str, int]) -> str:
    return min(counts, key=counts.__getitem__)


def _required_for_string(strategy: str, counts: dict[str, int]) -> dict[str, int]:
    if strategy == "majority":
        raise PlanError(
            "sampling_strategy 'majority' cannot be used to add rows because it only selects the "
            f"largest class: use one of {list(STRING_STRATEGIES)}."
        )
    if strategy not in STRING_STRATEGIES:
        raise PlanError(
            f"Unknown sampling_strategy {strategy!r}: use one of {list(STRING_STRATEGIES)}, "
            "a float in (0, 1] or a dict of target counts per class."
        )

    n_majority = max(counts.values())
    if strategy == "all":
        selected = list(counts)
    elif strategy == "minority":
        selected = [_minority(counts)]
    elif strategy == "not minority":
        selected = [label for label in counts if label != _minority(counts)]
    else:
        # "auto" means "not majority" for over-sampling.
        selected = [label for label in counts if label != _majority(counts)]

    return {label: n_majority - counts[label] for label in selected}


def _validate_target_dict(strategy: Mapping[str, int], counts: dict[str, int]) -> dict[str, int]:
    if not strategy:
        raise PlanError(
            "sampling_strategy is an empty dict: give the target count of at least one class, "
            "for example {'buy': 20000}."
        )

    targets: dict[str, int] = {}
    for label, target in strategy.items():
        key = str(label)
        if key not in counts:
            raise PlanError(
                f"Class {key!r} in sampling_strategy is not in class_counts {list(counts)}: "
                "add its count to class_counts or remove it from the strategy."
            )
        if isinstance(target, bool) or not isinstance(target, Integral) or target < 0:
            raise PlanError(
                f"Invalid target count {target!r} for class {key!r}: target counts must be integers >= 0."
            )
        if target < counts[key]:
            raise PlanError(
                f"Target count {int(target)} for class {key!r} is below its current count "
                f"{counts[key]}: over-sampling only adds rows, so give a target >= {counts[key]}."
            )
        targets[key] = int(target)

    return targets


def _required_for_dict(
    targets: dict[str, int], counts: dict[str, int], generatable: set[str]
) -> dict[str, int]:
    required = {label: target - counts[label] for label, target in targets.items()}

    missing = sorted(label for label, n_rows in required.items() if n_rows > 0 and label not in generatable)
    if missing:
        raise PlanError(
            f"sampling_strategy requests rows of class(es) {missing} that the model cannot generate: "
            f"the model generates {sorted(generatable)}."
        )
    return required


def _required_for_float(ratio: float, counts: dict[str, int], generatable: set[str]) -> dict[str, int]:
    if not math.isfinite(ratio) or ratio <= 0 or ratio > 1:
        raise PlanError(
            f"sampling_strategy {ratio} is out of range: a float must be in (0, 1], the target ratio of "
            f"each class to the majority; the strings {list(STRING_STRATEGIES)} and dicts are also allowed."
        )

    n_majority = max(counts.values())
    majority = _majority(counts)
    required = {
        label: int(n_majority * ratio - count) for label, count in counts.items() if label != majority
    }

    # imbalanced-learn rejects a ratio that gives 0 or fewer rows. Classes the
    # model cannot generate are reported in not_generated instead.
    too_large = {label: counts[label] for label, n_rows in required.items() if n_rows <= 0 and label in generatable}
    if too_large:
        raise PlanError(
            f"sampling_strategy {ratio} would remove samples: class(es) {too_large} already have at least "
            f"int({n_majority} * {ratio}) = {int(n_majority * ratio)} rows. Increase the ratio."
        )
    return required


def _build_plan(
    strategy: float | str | dict[str, int],
    counts: dict[str, int],
    required: dict[str, int],
    generatable: set[str],
) -> BalancingPlan:
    n_samples: dict[str, int] = {}
    not_generated: dict[str, str] = {}

    for label, n_rows in required.items():
        if n_rows <= 0:
            continue
        if label in generatable:
            n_samples[label] = n_rows
        else:
            not_generated[label] = (
                f"the strategy requests {n_rows} rows but the model cannot generate class {label!r}; "
                f"it generates {sorted(generatable)}"
            )

    target_counts = {label: count + n_samples.get(label, 0) for label, count in counts.items()}
    return BalancingPlan(
        sampling_strategy=strategy,
        class_counts=dict(counts),
        target_counts=target_counts,
        n_samples=n_samples,
        not_generated=not_generated,
    )
