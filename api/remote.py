"""An imbalanced-learn over-sampler that gets its synthetic rows from a longtail service.

`RemoteOverSampler` behaves as `generator.LongtailOverSampler` with a trained
model: for the same model, data and `random_state` it returns the same rows.
It calls `POST /v1/models/{model_id}/augmentations` instead of loading the
model, so a pipeline that uses it imports neither torch nor the library.

    pipeline = imblearn.pipeline.Pipeline([
        ("oversample", RemoteOverSampler(base_url="http://127.0.0.1:8000", api_key=KEY, model_id="taobao-buy")),
        ("classify", HistGradientBoostingClassifier()),
    ])
"""

from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils.validation import column_or_1d

from api.client import LongtailClient

logger = logging.getLogger(__name__)

_TRUE_TOKENS = ("true", "t", "yes", "y", "1")


class RemoteOverSampler(BaseOverSampler):
    """Over-sample minority classes with rows from a model served by longtail.

    Parameters
    ----------
    base_url : str
        Address of the service, such as "http://127.0.0.1:8000".
    api_key : str
        A key of the service; a `read` key is enough.
    model_id : str
        Registry id of a trained model whose schema has the columns of X plus the label.
    version : int or None, default=None
        Model version; None uses the latest.
    sampling_strategy : float, str or dict, default="auto"
        As in imbalanced-learn's over-samplers.
    random_state : int or None, default=None
        Seed of sampling; None means 0.
    timeout : float, default=300
        Seconds to wait for the service.
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "base_url": [str],
        "api_key": [str],
        "model_id": [str],
        "version": [Integral, None],
        "random_state": [Integral, None],
        "timeout": [Real],
    }

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model_id: str,
        version: int | None = None,
        sampling_strategy="auto",
        random_state: int | None = None,
        timeout: float = 300.0,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.base_url = base_url
        self.api_key = api_key
        self.model_id = model_id
        self.version = version
        self.random_state = random_state
        self.timeout = timeout

    def _check_X_y(self, X, y, accept_sparse=None):
        y = column_or_1d(y, warn=True)
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X), columns=[f"x{index}" for index in range(np.asarray(X).shape[1])])
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must have one label per row.")
        return X, y, False

    def _fit_resample(self, X: pd.DataFrame, y: np.ndarray):
        seed = 0 if self.random_state is None else int(self.random_state)
        requested = {label: count for label, count in self.sampling_strategy_.items() if count > 0}
        if not requested:
            return X, y
        labels_by_text = {str(label): label for label in np.unique(y)}
        counts = {str(label): int(count) for label, count in zip(*np.unique(y, return_counts=True))}
        targets = {str(label): counts[str(label)] + count for label, count in requested.items()}

        with LongtailClient(self.base_url, self.api_key, timeout=self.timeout) as client:
            label_name = self._label_name(client, X)
            batch = client.augment(
                self.model_id, targets, class_counts=counts, seed=seed, version=self.version, format="arrow"
            )

        synthetic = batch.rows
        self.plan_ = batch.plan
        self.fidelity_ = batch.fidelity
        X_new = pd.concat([X, _cast_like(synthetic[list(X.columns)], X)], ignore_index=True)
        y_new = np.concatenate([y, synthetic[label_name].map(labels_by_text).to_numpy(dtype=y.dtype)])
        logger.info("Over-sampled %s with %d synthetic rows from model %s", (batch.plan or {}).get("n_samples"),
                    len(synthetic), self.model_id)
        return X_new, y_new

    def _label_name(self, client: LongtailClient, X: pd.DataFrame) -> str:
        manifest = client.get_model(self.model_id, self.version).manifest or {}
        columns = (manifest.get("schema") or {}).get("columns") or {}
        label = next((name for name, spec in columns.items() if spec.get("role") == "label"), None)
        if label is None:
            raise ValueError(f"the manifest of model {self.model_id!r} names no label column; retrain the model")

        missing = [name for name in columns if name != label and name not in X.columns]
        if missing:
            raise ValueError(f"X lacks columns {missing} of model {self.model_id!r}'s schema.")
        extra = [name for name in X.columns if name not in columns]
        if extra:
            raise ValueError(
                f"X has columns {extra} that model {self.model_id!r}'s schema does not have, so its rows "
                "cannot fill them. Drop them before this step or train a model with them."
            )
        return label


def _cast_like(synthetic: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """Give synthetic columns the dtypes of the caller's X, as `LongtailOverSampler` does."""
    # NOTE: a copy of generator.oversampler._cast_like, because importing generator would import torch.
    # The two must change together; test_remote_oversampler_matches_local checks that they agree.
    cast = {}
    for name in original.columns:
        dtype = original[name].dtype
        values = synthetic[name]
        if pd.api.types.is_bool_dtype(dtype):
            cast[name] = values.astype(str).str.lower().isin(_TRUE_TOKENS)
        elif pd.api.types.is_numeric_dtype(dtype):
            cast[name] = pd.to_numeric(values).astype(dtype)
        else:
            cast[name] = values.astype(object)
    return pd.DataFrame(cast)
