"""Quality section: SDMetrics' QualityReport and DiagnosticReport, distributions and pair associations."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from sdmetrics.reports import DiagnosticReport, QualityReport

from generator.audit.stats import finite_or_none

logger = logging.getLogger(__name__)

TABLE = "minority"
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 12
OTHER_CATEGORIES = "(other)"
ASSOCIATION_BINS = 10
SDTYPES = {"numerical": "numerical", "datetime": "datetime", "categorical": "categorical", "boolean": "categorical", "label": "categorical"}


def evaluate_quality(real: pd.DataFrame, synthetic: pd.DataFrame, column_types: dict[str, str]) -> dict:
    """Compare synthetic minority rows with real ones, column by column and pair by pair.

    Identifier columns are left out: their values are drawn from real ids, so
    their distribution does not measure the model.
    """
    columns = [name for name, kind in column_types.items() if kind in SDTYPES]
    real_table = _for_sdmetrics(real[columns], column_types)
    synthetic_table = _for_sdmetrics(synthetic[columns], column_types)
    metadata = {"tables": {TABLE: {"columns": {name: {"sdtype": SDTYPES[column_types[name]]} for name in columns}}}}

    with warnings.catch_warnings():
        # SDMetrics warns about constant columns and small samples on every call; the scores stay valid.
        warnings.simplefilter("ignore")
        quality = QualityReport()
        quality.generate({TABLE: real_table}, {TABLE: synthetic_table}, metadata, verbose=False)
        diagnostic = DiagnosticReport()
        diagnostic.generate({TABLE: real_table}, {TABLE: synthetic_table}, metadata, verbose=False)

    return {
        "quality": _quality_section(quality, real, synthetic, columns, column_types),
        "diagnostic": _diagnostic_section(diagnostic),
    }


def _for_sdmetrics(frame: pd.DataFrame, column_types: dict[str, str]) -> pd.DataFrame:
    table = frame.copy()
    for name in table.columns:
        if column_types[name] == "datetime":
            table[name] = pd.to_datetime(table[name], unit="s", errors="coerce")
    return table


def _quality_section(
    report: QualityReport, real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str], column_types: dict[str, str]
) -> dict:
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    properties = report.get_properties()
    return {
        "score": finite_or_none(report.get_score()),
        "properties": {row.Property: finite_or_none(row.Score) for row in properties.itertuples()},
        "column_shapes": [
            {"column": row["Column"], "metric": row["Metric"], "score": finite_or_none(row["Score"])}
            for row in shapes.to_dict("records")
        ],
        "column_pair_trends": [
            {
                "column_1": row["Column 1"],
                "column_2": row["Column 2"],
                "metric": row["Metric"],
                "score": finite_or_none(row["Score"]),
            }
            for row in pairs.to_dict("records")
        ],
        "distributions": [_distribution(real[name], synthetic[name], name, column_types[name]) for name in columns],
        "associations": _associations(real, synthetic, columns, column_types),
    }


def _diagnostic_section(report: DiagnosticReport) -> dict:
    validity = report.get_details("Data Validity")
    return {
        "score": finite_or_none(report.get_score()),
        "properties": {row.Property: finite_or_none(row.Score) for row in report.get_properties().itertuples()},
        "data_validity": [
            {"column": row["Column"], "metric": row["Metric"], "score": finite_or_none(row["Score"])}
            for row in validity.to_dict("records")
        ],
    }


def _distribution(real: pd.Series, synthetic: pd.Series, name: str, kind: str) -> dict:
    if kind in ("numerical", "datetime"):
        values = real.dropna().to_numpy(dtype="float64")
        low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        edges = np.linspace(low, high if high > low else low + 1.0, HISTOGRAM_BINS + 1)
        return {
            "column": name,
            "kind": kind,
            "edges": edges.tolist(),
            "real": _histogram_shares(real, edges),
            "synthetic": _histogram_shares(synthetic, edges),
        }

    real_shares = real.fillna("(missing)").value_counts(normalize=True)
    synthetic_shares = synthetic.fillna("(missing)").value_counts(normalize=True)
    top = list(real_shares.index[:TOP_CATEGORIES])
    categories = top + ([OTHER_CATEGORIES] if len(real_shares) > len(top) or set(synthetic_shares.index) - set(top) else [])
    return {
        "column": name,
        "kind": kind,
        "categories": [str(category) for category in categories],
        "real": _category_shares(real_shares, top, categories),
        "synthetic": _category_shares(synthetic_shares, top, categories),
    }


def _histogram_shares(column: pd.Series, edges: np.ndarray) -> list[float]:
    # Values outside the real range are clipped into the end bins, so that every synthetic row is counted.
    values = np.clip(column.dropna().to_numpy(dtype="float64"), edges[0], edges[-1])
    counts, _ = np.histogram(values, bins=edges)
    return (counts / max(len(values), 1)).tolist()


def _category_shares(shares: pd.Series, top: list, categories: list[str]) -> list[float]:
    values = [float(shares.get(category, 0.0)) for category in top]
    if len(categories) > len(top):
        values.append(max(0.0, 1.0 - sum(values)))
    return values


def _associations(real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str], column_types: dict[str, str]) -> dict:
    """Return the bias-corrected Cramér's V of every column pair in the real and the synthetic rows.

    Numerical and datetime columns are cut into deciles of the real values
    first, so one measure in [0, 1] covers every pair of column types.
    """
    real_codes, synthetic_codes = {}, {}
    for name in columns:
        real_codes[name], synthetic_codes[name] = _discretize(real[name], synthetic[name], column_types[name])

    size = len(columns)
    real_matrix = np.eye(size)
    synthetic_matrix = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            real_matrix[i, j] = real_matrix[j, i] = _cramers_v(real_codes[columns[i]], real_codes[columns[j]])
            synthetic_matrix[i, j] = synthetic_matrix[j, i] = _cramers_v(
                synthetic_codes[columns[i]], synthetic_codes[columns[j]]
            )
    return {
        "measure": "bias-corrected Cramér's V (numerical and datetime columns cut into real deciles)",
        "columns": columns,
        "real": _rounded(real_matrix),
        "synthetic": _rounded(synthetic_matrix),
    }


def _discretize(real: pd.Series, synthetic: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind in ("numerical", "datetime"):
        values = real.dropna().to_numpy(dtype="float64")
        edges = np.unique(np.quantile(values, np.linspace(0, 1, ASSOCIATION_BINS + 1))[1:-1]) if len(values) else []
        return np.digitize(real.fillna(np.inf), edges), np.digitize(synthetic.fillna(np.inf), edges)

    categories = {value: code for code, value in enumerate(real.fillna("(missing)").unique())}
    unseen = len(categories)
    return (
        real.fillna("(missing)").map(categories).to_numpy(dtype="int64"),
        synthetic.fillna("(missing)").map(categories).fillna(unseen).to_numpy(dtype="int64"),
    )


def _cramers_v(first: np.ndarray, second: np.ndarray) -> float:
    """Return the bias-corrected Cramér's V of two code arrays.

    The plain statistic grows with the number of categories on small samples
    (hundreds of category ids over a thousand rows look associated with
    anything), so phi² and the table's dimensions are corrected for the sample size.
    """
    table = pd.crosstab(first, second).to_numpy(dtype="float64")
    if min(table.shape) < 2:
        return 0.0
    total = table.sum()
    expected = table.sum(axis=1, keepdims=True) @ table.sum(axis=0, keepdims=True) / total
    phi2 = float(((table - expected) ** 2 / expected).sum()) / total

    rows, columns = table.shape
    phi2 = max(0.0, phi2 - (rows - 1) * (columns - 1) / (total - 1))
    rows = rows - (rows - 1) ** 2 / (total - 1)
    columns = columns - (columns - 1) ** 2 / (total - 1)
    dimension = min(rows, columns) - 1
    return float(np.sqrt(phi2 / dimension)) if dimension > 0 else 0.0


def _rounded(matrix: np.ndarray) -> list[list[float]]:
    return np.round(np.clip(matrix, 0.0, 1.0), 4).tolist()
