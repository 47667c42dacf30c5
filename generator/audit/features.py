"""Feature matrices for the audit's classifiers, learned from the training split only.

Identifier columns become counts looked up in the training split (item
popularity, user activity), so no holdout label leaks into them. Datetimes add
hour and weekday (UTC). Categorical columns keep their most frequent training
values and put the others in one rare bucket, because HistGradientBoosting
handles at most 255 categories per feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_CATEGORIES = 200
RARE_CATEGORY = "__rare__"


class FeatureEncoder:
    """Turns normalized audit tables into numeric and categorical features.

    Parameters
    ----------
    column_types:
        The audit column types, label included; the label never becomes a feature.
    """

    def __init__(self, column_types: dict[str, str]):
        self.column_types = column_types

    def fit(self, train: pd.DataFrame) -> FeatureEncoder:
        """Learn categories and identifier counts from the training split."""
        self.categories_ = {}
        self.counts_ = {}
        for name, kind in self.column_types.items():
            if kind in ("categorical", "boolean"):
                frequent = train[name].fillna(RARE_CATEGORY).value_counts().index[:MAX_CATEGORIES]
                self.categories_[name] = [*frequent.drop(RARE_CATEGORY, errors="ignore"), RARE_CATEGORY]
            elif kind in ("user_key", "item_key"):
                self.counts_[name] = train[name].value_counts()
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the feature table of `frame`; categorical features have pandas' category dtype."""
        features = {}
        for name, kind in self.column_types.items():
            column = frame[name]
            if kind == "numerical":
                features[name] = column.to_numpy(dtype="float64")
            elif kind == "datetime":
                features.update(_datetime_features(name, column))
            elif kind in ("categorical", "boolean"):
                categories = self.categories_[name]
                known = column.where(column.isin(categories), RARE_CATEGORY)
                features[name] = pd.Categorical(known, categories=categories)
            elif kind in ("user_key", "item_key"):
                counts = column.map(self.counts_[name]).fillna(0)
                features[f"{name}_training_count"] = counts.to_numpy(dtype="float64")
        return pd.DataFrame(features, index=frame.index)

    def categorical_features(self) -> list[str]:
        """Names of the categorical features, in the order `transform` writes them."""
        return [name for name, kind in self.column_types.items() if kind in ("categorical", "boolean")]


def _datetime_features(name: str, column: pd.Series) -> dict[str, np.ndarray]:
    seconds = column.to_numpy(dtype="float64")
    stamps = pd.to_datetime(pd.Series(seconds), unit="s", errors="coerce")
    return {
        name: seconds,
        f"{name}_hour": stamps.dt.hour.to_numpy(dtype="float64"),
        f"{name}_weekday": stamps.dt.weekday.to_numpy(dtype="float64"),
    }


def to_codes(features: pd.DataFrame) -> pd.DataFrame:
    """Return `features` with categorical columns replaced by their integer codes, for SMOTE-NC and SMOTEN."""
    coded = features.copy()
    for name in coded.columns:
        if isinstance(coded[name].dtype, pd.CategoricalDtype):
            coded[name] = coded[name].cat.codes.astype("int64")
    return coded


def from_codes(coded: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """Invert `to_codes`, taking the categories from `template`."""
    features = coded.copy()
    for name in template.columns:
        dtype = template[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            codes = np.rint(features[name].to_numpy()).astype("int64")
            features[name] = pd.Categorical.from_codes(codes, dtype=dtype)
    return features
