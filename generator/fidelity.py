"""Fidelity statistics of a synthetic batch against a stored reference profile of the real minority.

`ReferenceProfile.build` summarises the real rows a model trained on in a
JSON-serialisable dict whose size does not grow with the training data:

- numerical and datetime columns: min, max and a quantile sketch of at most
  `sketch_size` values;
- categorical and boolean columns: the frequencies of the `max_categories`
  most frequent values and the share of the others;
- column pairs: for at most `max_pairs` pairs, the real Pearson correlation or
  the contingency table of at most `max_categories` cells;
- privacy: hashes of at most `max_row_hashes` distinct training rows, and
  `dcr_reference_rows` training rows normalised for the distance to the
  closest record (DCR), with the median DCR of the holdout rows when a holdout
  is given.

`compute_fidelity` compares a batch with the profile. Its cost grows with the
batch, up to `max_rows` rows, and with the profile's caps, never with the
training data. It returns::

    {
      "column_shapes": {column: {"metric": "KSComplement" | "TVComplement",
                                 "score": float | None,
                                 "coverage_metric": "RangeCoverage" | "CategoryCoverage",
                                 "coverage": float | None,
                                 "exact": bool}},
      "column_pair_trends": {"pairs": [{"columns": [a, b],
                                        "metric": "CorrelationSimilarity" | "ContingencySimilarity",
                                        "score": float | None,
                                        "real_correlation": float}
                                       | {..., "real_association": float, "exact": bool}],
                             "pairs_below_threshold": int, "pairs_skipped": int, "max_pairs": int,
                             "real_correlation_threshold": 0.5, "real_association_threshold": 0.3},
      "privacy": {"exact_copy_share": float, "exact_copy_share_estimated": bool,
                  "dcr": {"synthetic_median": float | None, "holdout_median": float | None,
                          "ratio": float | None, "reference_rows": int, "holdout_rows": int,
                          "note": str (only without a holdout)}},
      "scores": {"column_shapes": float | None, "column_pair_trends": float | None, "overall": float | None},
      "rows": int, "sampled_from": int,
    }

The metrics are those of SDMetrics 0.32, and `scores` aggregates them as its
QualityReport does: `column_shapes` is the mean of the column scores,
`column_pair_trends` the mean of the scores of the pairs whose real data pass
the report's thresholds (|Pearson r| > 0.5, Cramér's V > 0.3), and `overall`
the mean of the two, or the one that exists. A score is None where SDMetrics
gives NaN, for example the range coverage of a constant column.

The scores differ from SDMetrics' in three documented ways. The real side of
KSComplement uses the quantile sketch when the real column has more than
`sketch_size` values, so the score is then within about 1 / sketch_size of the
exact one. A categorical column or contingency table with more than
`max_categories` values compares the rest as one bucket, so its score is an
upper bound, and `exact` is false for it. And the pair trend mean covers only
the `max_pairs` strongest pairs.

Every statistic is computed on the same subsample of at most `max_rows` batch
rows, drawn without replacement from `seed`; `rows` is its size and
`sampled_from` the batch size.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from generator.errors import ArtifactIntegrityError, InvalidDataError, LongtailInputError, SchemaError
from generator.fidelity_columns import COLUMN_TYPES, build_column_profile, score_column_shape
from generator.fidelity_pairs import build_pair_profiles, score_pairs
from generator.fidelity_privacy import DCRReference, build_copy_profile, exact_copy_share

logger = logging.getLogger(__name__)

PROFILE_FORMAT_VERSION = 1
_REQUIRED_KEYS = ("n_rows", "columns", "column_types", "column_profiles", "pairs", "copies", "dcr")


class ReferenceProfile:
    """Bounded summary of the real minority rows that synthetic batches are compared with."""

    def __init__(self, data: Mapping[str, Any]):
        version = data.get("format_version") if isinstance(data, Mapping) else None
        if version != PROFILE_FORMAT_VERSION:
            raise ArtifactIntegrityError(
                f"Reference profile format_version {version!r} is not supported: this longtail reads "
                f"version {PROFILE_FORMAT_VERSION}. Retrain the model to rebuild its reference profile."
            )

        try:
            missing = [key for key in _REQUIRED_KEYS if key not in data]
            if missing:
                raise KeyError(f"missing keys {missing}")
            self._data = dict(data)
            self._row_hashes = np.asarray(data["copies"]["row_hashes"], dtype=np.int64)
            self._dcr = DCRReference(data["dcr"]) if data["dcr"]["columns"] else None
            self.column_types: dict[str, str] = dict(data["column_types"])
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactIntegrityError(
                f"Reference profile is malformed ({type(error).__name__}: {error}). "
                "Retrain the model to rebuild its reference profile."
            ) from error

    @classmethod
    def build(
        cls,
        real: pd.DataFrame,
        column_types: Mapping[str, str],
        *,
        seed: int,
        holdout: pd.DataFrame | None = None,
        max_pairs: int = 50,
        sketch_size: int = 2000,
        dcr_reference_rows: int = 2000,
        max_categories: int = 1000,
        max_row_hashes: int = 200_000,
    ) -> ReferenceProfile:
        """Summarise the real rows a model trained on, in raw (output) values.

        `column_types` maps columns to "numerical", "datetime", "categorical"
        or "boolean". Columns absent from it, such as ids, get no shape or pair
        statistics but are part of the row hashes for exact copies. `holdout`
        is real rows the model did not train on, the baseline for DCR.
        """
        types = _validate_build_inputs(real, column_types, holdout)
        _validate_caps(
            max_pairs=max_pairs,
            sketch_size=sketch_size,
            dcr_reference_rows=dcr_reference_rows,
            max_categories=max_categories,
            max_row_hashes=max_row_hashes,
        )

        column_profiles = {
            column: build_column_profile(
                real[column], column_type, sketch_size=sketch_size, max_categories=max_categories
            )
            for column, column_type in types.items()
        }
        pairs = build_pair_profiles(real, types, max_pairs=max_pairs, max_cells=max_categories)
        copies = build_copy_profile(real, max_row_hashes=max_row_hashes)
        dcr = DCRReference.build(real, types, column_profiles, rows=dcr_reference_rows, seed=seed)
        dcr["holdout_median"] = None
        dcr["holdout_rows"] = 0

        data = {
            "format_version": PROFILE_FORMAT_VERSION,
            "seed": seed,
            "n_rows": len(real),
            "columns": list(real.columns),
            "column_types": types,
            "column_profiles": column_profiles,
            "pairs": pairs,
            "copies": copies,
            "dcr": dcr,
        }
        profile = cls(data)
        if holdout is not None and profile._dcr is not None:
            holdout_sample = holdout.sample(n=min(dcr_reference_rows, len(holdout)), random_state=seed)
            dcr["holdout_median"] = float(np.median(profile._dcr.distances(holdout_sample)))
            dcr["holdout_rows"] = len(holdout_sample)

        logger.info(
            "Built reference profile: %d rows, %d typed columns, %d pairs, %d row hashes",
            len(real),
            len(types),
            len(pairs["pairs"]),
            len(copies["row_hashes"]),
        )
        return profile

    def to_dict(self) -> dict[str, Any]:
        """Convert the profile to a JSON-serialisable dict that `from_dict` reads back."""
        return copy.deepcopy(self._data)

    @classmethod
    def from_dict(cls, data: dict) -> ReferenceProfile:
        """Read a profile written by `to_dict`, raising ArtifactIntegrityError for a malformed one."""
        return cls(copy.deepcopy(data))

    @property
    def columns(self) -> list[str]:
        """Columns of the real rows, in their order."""
        return list(self._data["columns"])

    @property
    def n_rows(self) -> int:
        """Number of real rows the profile summarises."""
        return int(self._data["n_rows"])


def _validate_build_inputs(
    real: pd.DataFrame, column_types: Mapping[str, str], holdout: pd.DataFrame | None
) -> dict[str, str]:
    if not isinstance(real, pd.DataFrame) or len(real) == 0:
        raise InvalidDataError("The real rows for the reference profile are empty: train on at least one row.")

    types: dict[str, str] = {}
    for column, column_type in column_types.items():
        if column not in real.columns:
            raise SchemaError(
                f"Column {column!r} in column_types is missing from the real rows, "
                f"which have columns {list(real.columns)}."
            )
        if column_type not in COLUMN_TYPES:
            raise SchemaError(
                f"Invalid column type {column_type!r} for column {column!r}: use one of {list(COLUMN_TYPES)}."
            )
        types[column] = column_type

    if holdout is not None:
        missing = [column for column in types if column not in holdout.columns]
        if missing:
            raise SchemaError(f"The holdout rows lack the columns {missing} that the real rows have.")
        if len(holdout) == 0:
            raise InvalidDataError("The holdout rows are empty: pass None or at least one row.")

    return types


def _validate_caps(**caps: int) -> None:
    for name, value in caps.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LongtailInputError(f"Invalid {name} {value!r}: it must be an integer >= 1.")


def compute_fidelity(
    synthetic: pd.DataFrame, reference: ReferenceProfile, *, seed: int = 0, max_rows: int = 20_000
) -> dict[str, Any]:
    """Compute the fidelity statistics of a synthetic batch, as the module docstring describes."""
    data = reference._data
    missing = [column for column in data["columns"] if column not in synthetic.columns]
    if missing:
        raise InvalidDataError(
            f"The synthetic rows lack the columns {missing} of the reference profile: "
            "pass rows in the schema the model was trained on."
        )
    if len(synthetic) == 0:
        raise InvalidDataError("The synthetic batch is empty: fidelity needs at least one row.")
    _validate_caps(max_rows=max_rows)

    sample = synthetic
    if len(synthetic) > max_rows:
        sample = synthetic.sample(n=max_rows, random_state=seed)

    column_shapes = {
        column: score_column_shape(sample[column], data["column_profiles"][column])
        for column in reference.column_types
    }
    pair_trends = score_pairs(sample, reference.column_types, data["pairs"])
    privacy = _privacy(sample, reference)
    scores = _aggregate_scores(column_shapes, pair_trends)

    logger.debug("Computed fidelity of %d of %d rows: overall %s", len(sample), len(synthetic), scores["overall"])
    return {
        "column_shapes": column_shapes,
        "column_pair_trends": pair_trends,
        "privacy": privacy,
        "scores": scores,
        "rows": len(sample),
        "sampled_from": len(synthetic),
    }


def _privacy(sample: pd.DataFrame, reference: ReferenceProfile) -> dict[str, Any]:
    data = reference._data
    share, estimated = exact_copy_share(sample, data["copies"], reference._row_hashes)

    dcr: dict[str, Any] = {
        "synthetic_median": None,
        "holdout_median": data["dcr"]["holdout_median"],
        "ratio": None,
        "reference_rows": data["dcr"]["rows"],
        "holdout_rows": data["dcr"]["holdout_rows"],
    }
    if reference._dcr is not None:
        dcr["synthetic_median"] = float(np.median(reference._dcr.distances(sample)))
    if dcr["holdout_median"] is None:
        dcr["note"] = "No holdout rows were given to ReferenceProfile.build, so there is no DCR baseline."
    elif dcr["synthetic_median"] is not None and dcr["holdout_median"] > 0:
        dcr["ratio"] = dcr["synthetic_median"] / dcr["holdout_median"]

    return {"exact_copy_share": share, "exact_copy_share_estimated": estimated, "dcr": dcr}


def _aggregate_scores(column_shapes: Mapping[str, dict], pair_trends: Mapping[str, Any]) -> dict[str, float | None]:
    shape_scores = [entry["score"] for entry in column_shapes.values() if entry["score"] is not None]
    pair_scores = [entry["score"] for entry in pair_trends["pairs"] if entry["score"] is not None]

    shapes_mean = float(np.mean(shape_scores)) if shape_scores else None
    pairs_mean = float(np.mean(pair_scores)) if pair_scores else None
    present = [score for score in (shapes_mean, pairs_mean) if score is not None]
    return {
        "column_shapes": shapes_mean,
        "column_pair_trends": pairs_mean,
        "overall": float(np.mean(present)) if present else None,
    }
