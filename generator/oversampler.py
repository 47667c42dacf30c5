"""An imbalanced-learn over-sampler that adds longtail's synthetic minority rows.

`LongtailOverSampler` follows imbalanced-learn's contract, so it fits in an
`imblearn.pipeline.Pipeline` next to SMOTE: `fit_resample(X, y)` returns the
original rows followed by the synthetic ones. Without a `model` it trains one
on the classes that need rows each time it is fitted.
"""

from __future__ import annotations

import logging
from numbers import Integral

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils.validation import column_or_1d

from generator.errors import InvalidDataError
from generator.model import LongtailModel, TrainingSettings, train
from generator.schema import ColumnSpec, Role, Schema

logger = logging.getLogger(__name__)


class LongtailOverSampler(BaseOverSampler):
    """Over-sample minority classes with rows from a conditional GAN.

    Parameters
    ----------
    sampling_strategy : float, str or dict, default="auto"
        As in imbalanced-learn's over-samplers.
    model : LongtailModel or None
        A trained model whose schema has the columns of X plus the label. When
        None, `fit_resample` trains one on X and y.
    epochs, batch_size : int
        Training settings used when `model` is None.
    random_state : int or None
        Seed of training and sampling; None means 0.
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "model": [LongtailModel, None],
        "epochs": [Integral],
        "batch_size": [Integral],
        "random_state": [Integral, None],
    }

    def __init__(self, *, sampling_strategy="auto", model=None, epochs=300, batch_size=500, random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        y = column_or_1d(y, warn=True)
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X), columns=[f"x{index}" for index in range(np.asarray(X).shape[1])])
        if len(X) != len(y):
            raise InvalidDataError(f"X has {len(X)} rows but y has {len(y)}; they must have one label per row.")
        return X, y, False

    def _fit_resample(self, X: pd.DataFrame, y: np.ndarray):
        seed = 0 if self.random_state is None else int(self.random_state)
        wanted = {label: count for label, count in self.sampling_strategy_.items() if count > 0}
        if not wanted:
            return X, y
        labels_by_text = {str(label): label for label in np.unique(y)}
        counts = {str(label): int(count) for label, count in zip(*np.unique(y, return_counts=True))}
        targets = {str(label): counts[str(label)] + count for label, count in wanted.items()}

        label_name = self._label_name(X)
        self.model_ = self.model if self.model is not None else self._train(X, y, label_name, sorted(targets), seed)
        result = self.model_.augment(targets, class_counts=counts, seed=seed)

        synthetic = result.rows
        model_label = self.model_.schema.label
        X_new = pd.concat([X, _cast_like(synthetic[list(X.columns)], X)], ignore_index=True)
        y_new = np.concatenate([y, synthetic[model_label].map(labels_by_text).to_numpy(dtype=y.dtype)])
        logger.info("Over-sampled %s with %d synthetic rows", {k: v for k, v in result.plan.n_samples.items()}, len(synthetic))
        return X_new, y_new

    def _label_name(self, X: pd.DataFrame) -> str:
        if self.model is not None:
            missing = [name for name in self.model.schema.columns if name != self.model.schema.label and name not in X.columns]
            if missing:
                raise InvalidDataError(f"X lacks columns {missing} of model {self.model.model_id!r}'s schema.")
            extra = [name for name in X.columns if name not in self.model.schema.columns]
            if extra:
                raise InvalidDataError(
                    f"X has columns {extra} that model {self.model.model_id!r}'s schema does not have, so its rows "
                    "cannot fill them. Drop them before this step or train a model with them."
                )
            return self.model.schema.label
        name = "label"
        while name in X.columns:
            name = "_" + name
        return name

    def _train(self, X: pd.DataFrame, y: np.ndarray, label_name: str, minority: list[str], seed: int) -> LongtailModel:
        columns = {name: ColumnSpec(role=_role_of(X[name])) for name in X.columns}
        columns[label_name] = ColumnSpec(role=Role.LABEL)
        mode = "conditional" if len(minority) == len(np.unique(y)) else "minority"
        schema = Schema(columns=columns, minority={"values": minority, "mode": mode})
        data = X.copy()
        data[label_name] = y
        settings = TrainingSettings(epochs=self.epochs, batch_size=self.batch_size, seed=seed, holdout_fraction=0)
        return train(data, schema, settings, source="fit_resample", model_id="oversampler")


def _role_of(column: pd.Series) -> Role:
    if pd.api.types.is_bool_dtype(column):
        return Role.BOOLEAN
    if pd.api.types.is_numeric_dtype(column):
        return Role.NUMERICAL
    return Role.CATEGORICAL


def _cast_like(synthetic: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """Give synthetic columns the dtypes of the caller's X, so the pipeline gets one table."""
    cast = {}
    for name in original.columns:
        dtype = original[name].dtype
        values = synthetic[name]
        if pd.api.types.is_bool_dtype(dtype):
            cast[name] = values.astype(str).str.lower().isin(["true", "t", "yes", "y", "1"])
        elif pd.api.types.is_numeric_dtype(dtype):
            cast[name] = pd.to_numeric(values).astype(dtype)
        else:
            cast[name] = values.astype(object)
    return pd.DataFrame(cast)
