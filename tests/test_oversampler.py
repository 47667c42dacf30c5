"""The imbalanced-learn compatible over-sampler, alone and inside an imblearn Pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

from generator.oversampler import LongtailOverSampler
from tests.conftest import SHOPPERS

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def shoppers_xy():
    frame = pd.read_csv(SHOPPERS)
    frame = frame.drop(columns=["Weekend"]).astype({"Month": str, "VisitorType": str})
    y = frame.pop("Revenue").map({True: "yes", False: "no"}).to_numpy()
    return frame, y


def test_fit_resample_with_trained_model_counts(shoppers_conditional_model, shoppers_xy):
    X, y = shoppers_xy
    X = X.assign(Weekend=pd.read_csv(SHOPPERS)["Weekend"].map({True: "TRUE", False: "FALSE"}))
    y_model = np.where(y == "yes", "TRUE", "FALSE")
    sampler = LongtailOverSampler(model=shoppers_conditional_model, sampling_strategy=0.5, random_state=1)

    X_res, y_res = sampler.fit_resample(X, y_model)

    n_false, n_true = int((y_model == "FALSE").sum()), int((y_model == "TRUE").sum())
    expected_new = int(n_false * 0.5 - n_true)
    assert len(X_res) == len(X) + expected_new
    assert (y_res == "TRUE").sum() == n_true + expected_new
    assert list(X_res.columns) == list(X.columns)
    assert X_res["Administrative"].dtype == X["Administrative"].dtype
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X)


def test_pipeline_trains_its_own_model(shoppers_xy):
    X, y = shoppers_xy
    X, y = X.iloc[:3000], y[:3000]
    pipeline = Pipeline(
        [
            ("oversample", LongtailOverSampler(sampling_strategy="minority", epochs=1, random_state=0)),
            ("classify", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ]
    )
    pipeline.fit(X.drop(columns=["Month", "VisitorType"]), y)

    scores = pipeline.predict_proba(X.drop(columns=["Month", "VisitorType"]))[:, list(pipeline.classes_).index("yes")]
    assert set(pipeline.predict(X.drop(columns=["Month", "VisitorType"]))) <= {"yes", "no"}
    assert average_precision_score(y == "yes", scores) > (y == "yes").mean()
    sampler = pipeline.named_steps["oversample"]
    assert sampler.model_.manifest["minority"]["values"] == ["yes"]


def test_fit_resample_rejects_missing_columns(shoppers_conditional_model, shoppers_xy):
    X, y = shoppers_xy
    sampler = LongtailOverSampler(model=shoppers_conditional_model)
    with pytest.raises(Exception, match=r"X lacks columns \['Weekend'\]"):
        sampler.fit_resample(X, np.where(y == "yes", "TRUE", "FALSE"))


def test_fit_resample_rejects_extra_columns(shoppers_conditional_model, shoppers_xy):
    X, y = shoppers_xy
    X = X.assign(Weekend=pd.read_csv(SHOPPERS)["Weekend"].map({True: "TRUE", False: "FALSE"}), extra=1)
    sampler = LongtailOverSampler(model=shoppers_conditional_model)
    with pytest.raises(Exception, match=r"X has columns \['extra'\] that model 'shoppers-all'"):
        sampler.fit_resample(X, np.where(y == "yes", "TRUE", "FALSE"))
