"""Encoding of model-space tables into CTGAN's matrix and back.

A continuous column becomes a scalar in [-1, 1] (tanh output) followed by a one-hot mode of its
Bayesian Gaussian mixture (softmax output), as in ctgan's mode-specific normalisation. A discrete
column becomes a one-hot of its category (softmax output). So every column owns exactly one
softmax span, and a continuous column also owns one scalar.

The mixtures are fitted by ctgan's `DataTransformer` on a bounded random subsample. The engine
applies and inverts them itself, vectorised and seeded, because rdt's `ClusterBasedNormalizer`
draws each row's mode in a Python loop from numpy's global random state. Only means, standard
deviations and category lists are kept, so a saved model needs no rdt object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ctgan.data_transformer import ColumnTransformInfo, DataTransformer, SpanInfo
from rdt.transformers import ClusterBasedNormalizer

# ClusterBasedNormalizer divides by 4 standard deviations so that almost every value of a mode
# lands in [-1, 1]. rdt 2.0 clips transformed values to +-0.99.
STD_MULTIPLIER = ClusterBasedNormalizer.STD_MULTIPLIER
_NORMALIZED_CLIP = 0.99
# rdt adds this to every mode probability before drawing a mode, so no value lands in a mode
# of zero posterior probability only by rounding.
_MODE_PROBABILITY_FLOOR = 1e-6


class _SeededClusterBasedNormalizer(ClusterBasedNormalizer):
    """ClusterBasedNormalizer whose Bayesian GMM uses a given random seed.

    rdt 2.0 resets the transformer's random states inside `fit` and then seeds the mixture with 42,
    whatever state was set before, so the seed is injected through the hook that reads it.
    """

    def __init__(self, *, random_seed: int, **kwargs):
        super().__init__(**kwargs)
        self._mixture_seed = random_seed

    def _get_current_random_seed(self) -> int:
        return self._mixture_seed


class _SeededDataTransformer(DataTransformer):
    """ctgan's DataTransformer with a seeded mixture for each continuous column."""

    def __init__(self, random_seed: int):
        super().__init__()
        self._random_seed = random_seed

    def _fit_continuous(self, data: pd.DataFrame) -> ColumnTransformInfo:
        column_name = data.columns[0]
        normalizer = _SeededClusterBasedNormalizer(
            random_seed=self._random_seed,
            missing_value_generation="from_column",
            max_clusters=min(len(data), self._max_clusters),
            weight_threshold=self._weight_threshold,
        )
        normalizer.fit(data, column_name)
        mode_count = int(sum(normalizer.valid_component_indicator))

        return ColumnTransformInfo(
            column_name=column_name,
            column_type="continuous",
            transform=normalizer,
            output_info=[SpanInfo(1, "tanh"), SpanInfo(mode_count, "softmax")],
            output_dimensions=1 + mode_count,
        )


@dataclass(frozen=True)
class ContinuousColumn:
    """A continuous column's dtype and the means and standard deviations of its valid modes.

    `mixture` is the fitted sklearn BayesianGaussianMixture, needed only to transform training
    rows. It is not saved, so a loaded model can sample but not transform.
    """

    name: str
    dtype: str
    means: np.ndarray
    stds: np.ndarray
    valid_modes: np.ndarray | None = field(default=None, repr=False)
    mixture: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class DiscreteColumn:
    """A discrete column's categories (sorted) and their row counts in the training data."""

    name: str
    categories: list[str]
    counts: np.ndarray


Column = ContinuousColumn | DiscreteColumn


def _span_width(column: Column) -> int:
    if isinstance(column, ContinuousColumn):
        return len(column.means)
    return len(column.categories)


class TableTransformer:
    """Fitted encoding of a model-space table, with the layout of its matrix.

    Layout, for the columns in table order: a continuous column takes one scalar then its modes,
    a discrete column takes its categories. `softmax_offsets[i]` and `softmax_widths[i]` locate the
    softmax span of column i, `scalar_offsets[j]` the scalar of the j-th continuous column.
    """

    def __init__(self, columns: list[Column]):
        self.columns = columns
        self.continuous_columns = [c for c in columns if isinstance(c, ContinuousColumn)]
        self.discrete_columns = [c for c in columns if isinstance(c, DiscreteColumn)]

        scalar_offsets, softmax_offsets, softmax_widths = [], [], []
        offset = 0
        for column in columns:
            if isinstance(column, ContinuousColumn):
                scalar_offsets.append(offset)
                offset += 1
            softmax_offsets.append(offset)
            softmax_widths.append(_span_width(column))
            offset += _span_width(column)

        self.output_dimensions = offset
        self.scalar_offsets = np.asarray(scalar_offsets, dtype=np.int64)
        self.softmax_offsets = np.asarray(softmax_offsets, dtype=np.int64)
        self.softmax_widths = np.asarray(softmax_widths, dtype=np.int64)
        self.discrete_positions = np.asarray(
            [i for i, c in enumerate(columns) if isinstance(c, DiscreteColumn)], dtype=np.int64
        )
        self.continuous_positions = np.asarray(
            [i for i, c in enumerate(columns) if isinstance(c, ContinuousColumn)], dtype=np.int64
        )

    @classmethod
    def fit(
        cls,
        data: pd.DataFrame,
        discrete_columns: list[str],
        *,
        max_rows: int,
        rng: np.random.Generator,
        mixture_seed: int,
    ) -> TableTransformer:
        """Fit the mixtures on at most `max_rows` random rows and the categories on all rows."""
        continuous_names = [name for name in data.columns if name not in discrete_columns]
        mixtures = _fit_mixtures(data[continuous_names], max_rows, rng, mixture_seed)

        columns: list[Column] = []
        for name in data.columns:
            if name in discrete_columns:
                categories, counts = np.unique(data[name].to_numpy(dtype=object), return_counts=True)
                columns.append(DiscreteColumn(name, [str(c) for c in categories], counts))
            else:
                columns.append(mixtures[name])

        return cls(columns)

    def transform(self, data: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Encode `data` into a float32 matrix, and return it with the discrete columns' codes.

        The codes have shape (rows, discrete columns) and index each column's sorted categories.
        Only a transformer returned by `fit` can transform, because it keeps the sklearn mixtures.
        """
        matrix = np.zeros((len(data), self.output_dimensions), dtype=np.float32)
        codes = np.zeros((len(data), len(self.discrete_columns)), dtype=np.int64)
        rows = np.arange(len(data))

        continuous_index = 0
        discrete_index = 0
        for position, column in enumerate(self.columns):
            span_offset = self.softmax_offsets[position]
            if isinstance(column, ContinuousColumn):
                values = data[column.name].to_numpy(dtype=np.float64)
                normalized, modes = _normalize(values, column, rng)
                matrix[:, self.scalar_offsets[continuous_index]] = normalized
                matrix[rows, span_offset + modes] = 1.0
                continuous_index += 1
            else:
                column_codes = pd.Categorical(data[column.name], categories=column.categories).codes
                matrix[rows, span_offset + column_codes] = 1.0
                codes[:, discrete_index] = column_codes
                discrete_index += 1

        return matrix, codes

    def inverse_transform(self, scalars: np.ndarray, choices: np.ndarray) -> pd.DataFrame:
        """Decode generator output into a model-space DataFrame.

        `scalars` (rows, continuous columns) are tanh outputs and `choices` (rows, columns) the
        chosen position within each column's softmax span.
        """
        decoded = {}
        continuous_index = 0
        for position, column in enumerate(self.columns):
            chosen = choices[:, position]
            if isinstance(column, ContinuousColumn):
                normalized = np.clip(scalars[:, continuous_index].astype(np.float64), -1.0, 1.0)
                # The mean is added in float64, so large values such as Unix seconds keep their
                # precision, which float32 would round to about a minute.
                values = normalized * STD_MULTIPLIER * column.stds[chosen] + column.means[chosen]
                decoded[column.name] = values.astype(column.dtype)
                continuous_index += 1
            else:
                categories = np.asarray(column.categories, dtype=object)
                decoded[column.name] = categories[chosen]

        return pd.DataFrame(decoded, columns=[c.name for c in self.columns])

    def to_state(self) -> tuple[list[dict], dict[str, np.ndarray]]:
        """Return the JSON part (names, kinds, dtypes, categories) and the NumPy part of the state."""
        descriptions, arrays = [], {}
        for position, column in enumerate(self.columns):
            if isinstance(column, ContinuousColumn):
                descriptions.append({"name": column.name, "kind": "continuous", "dtype": column.dtype})
                arrays[f"means_{position}"] = column.means
                arrays[f"stds_{position}"] = column.stds
            else:
                descriptions.append(
                    {"name": column.name, "kind": "discrete", "categories": column.categories}
                )
                arrays[f"counts_{position}"] = column.counts

        return descriptions, arrays

    @classmethod
    def from_state(cls, descriptions: list[dict], arrays: dict[str, np.ndarray]) -> TableTransformer:
        """Rebuild the transformer from `to_state`'s output.

        Raises KeyError or ValueError if the state is malformed.
        """
        columns: list[Column] = []
        for position, description in enumerate(descriptions):
            name = str(description["name"])
            if description["kind"] == "continuous":
                means = np.asarray(arrays[f"means_{position}"], dtype=np.float64)
                stds = np.asarray(arrays[f"stds_{position}"], dtype=np.float64)
                if means.shape != stds.shape or means.ndim != 1 or len(means) == 0:
                    raise ValueError(f"column {name!r} has invalid mixture arrays")
                columns.append(ContinuousColumn(name, str(np.dtype(description["dtype"])), means, stds))
            elif description["kind"] == "discrete":
                categories = [str(c) for c in description["categories"]]
                counts = np.asarray(arrays[f"counts_{position}"], dtype=np.int64)
                if counts.shape != (len(categories),) or len(categories) == 0:
                    raise ValueError(
                        f"column {name!r} has {len(categories)} categories but counts of shape {counts.shape}"
                    )
                columns.append(DiscreteColumn(name, categories, counts))
            else:
                raise ValueError(f"column {name!r} has unknown kind {description['kind']!r}")

        return cls(columns)


def _fit_mixtures(
    continuous: pd.DataFrame, max_rows: int, rng: np.random.Generator, mixture_seed: int
) -> dict[str, ContinuousColumn]:
    """Fit a Bayesian GMM per column with ctgan's DataTransformer on at most `max_rows` rows."""
    if continuous.shape[1] == 0:
        return {}

    fit_rows = continuous
    if len(continuous) > max_rows:
        subsample = rng.choice(len(continuous), size=max_rows, replace=False)
        fit_rows = continuous.iloc[np.sort(subsample)]

    transformer = _SeededDataTransformer(mixture_seed)
    transformer.fit(fit_rows.astype(np.float64), discrete_columns=())

    columns = {}
    for info in transformer._column_transform_info_list:
        name = info.column_name
        valid_modes = np.asarray(info.transform.valid_component_indicator, dtype=bool)
        mixture = info.transform._bgm_transformer
        columns[name] = ContinuousColumn(
            name=name,
            dtype=str(continuous[name].dtype),
            means=mixture.means_.reshape(-1)[valid_modes],
            stds=np.sqrt(mixture.covariances_).reshape(-1)[valid_modes],
            valid_modes=valid_modes,
            mixture=mixture,
        )

    return columns


def _normalize(
    values: np.ndarray, column: ContinuousColumn, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a mode for every value from its posterior and normalise the value within that mode.

    This is rdt 2.0's ClusterBasedNormalizer transform, vectorised and drawing from `rng`.
    """
    if column.mixture is None:
        raise ValueError(f"column {column.name!r} has no fitted mixture, so it cannot transform rows")

    probabilities = column.mixture.predict_proba(values.reshape(-1, 1))[:, column.valid_modes]
    probabilities = probabilities + _MODE_PROBABILITY_FLOOR
    cumulative = np.cumsum(probabilities, axis=1)
    thresholds = rng.random(len(values)) * cumulative[:, -1]
    modes = np.minimum((cumulative <= thresholds[:, None]).sum(axis=1), len(column.means) - 1)

    normalized = (values - column.means[modes]) / (STD_MULTIPLIER * column.stds[modes])
    normalized = np.clip(normalized, -_NORMALIZED_CLIP, _NORMALIZED_CLIP)
    return normalized.astype(np.float32), modes
