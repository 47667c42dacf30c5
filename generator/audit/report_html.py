"""The audit report as one self-contained HTML page: inline CSS and SVG, no scripts and no external requests."""

from __future__ import annotations

from html import escape

from generator.audit import svg
from generator.audit.summary import METRIC_NAMES
from generator.audit.utility import METRICS

SECTIONS = ("summary", "data", "quality", "diagnostic", "distributions", "pair-trends", "detection", "privacy", "utility")
STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; } th:first-child, td:first-child { text-align: left; }
.better { background: #e3f4e1; } .worse { background: #fbe3e1; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; } figure { margin: 0; }
.note { color: #555; font-size: 0.9em; max-width: 80ch; }
"""


def render_html(report: dict) -> str:
    """Render `report`, as `run_audit` returns it, as an HTML page."""
    settings = report["settings"]
    title = f"longtail audit: {settings['label']} in {', '.join(settings['minority_values'])}"
    body = "".join(
        [
            f"<h1>{escape(title)}</h1>",
            f'<p class="note">Created {escape(report["created_at"])}; seeds {settings["seeds"]}; '
            f"sampling_strategy {settings['sampling_strategy']}.</p>",
            _summary(report),
            _data(report),
            _quality(report["quality"]),
            _diagnostic(report["diagnostic"]),
            _distributions(report["quality"]["distributions"]),
            _pair_trends(report["quality"]["associations"]),
            _detection(report["detection"]),
            _privacy(report["privacy"]),
            _utility(report["utility"]),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # An empty data: icon stops the browser from requesting /favicon.ico.
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _section(section_id: str, heading: str, content: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(heading)}</h2>{content}</section>'


def _figure(kind: str, chart: str) -> str:
    return f'<figure data-plot="{kind}">{chart}</figure>'


def _table(header: list[str], rows: list[list[str]], row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    lines = []
    for index, row in enumerate(rows):
        css = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
        lines.append(f"<tr{css}>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _spread(value: dict) -> str:
    return f"{_number(value['mean'])} ± {_number(value['std'])}"


def _summary(report: dict) -> str:
    summary = report["summary"]
    headline = "".join(f"<li>{escape(sentence)}</li>" for sentence in summary["headline"])
    rows, classes = [], []
    for item in summary["comparisons"]:
        rows.append(
            [item["baseline"], METRIC_NAMES[item["metric"]], _number(item["longtail"]), _number(item["baseline_value"]),
             f"{item['difference']:+.3f}", item["verdict"]]
        )
        classes.append({"better": "better", "worse": "worse"}.get(item["verdict"], ""))
    table = _table(["baseline", "metric", "longtail", "baseline value", "difference", "longtail is"], rows, classes)
    privacy = report["privacy"]
    privacy_line = (
        f"{privacy['exact_copy_share']:.2%} of synthetic rows are exact copies of training rows "
        f"(real holdout: {privacy['holdout_exact_copy_share']:.2%}); median DCR {privacy['dcr']['synthetic']['median']:.4f} "
        f"(real holdout: {privacy['dcr']['holdout']['median']:.4f})."
    )
    content = (
        f"<ul>{headline}</ul><p class=\"note\">{escape(summary['note'])}</p>"
        f"<p>Quality score {_number(report['quality']['score'])}, detection ROC AUC "
        f"{_spread(report['detection']['roc_auc'])} (0.5 means indistinguishable). {escape(privacy_line)}</p>{table}"
    )
    return _section("summary", "Summary", content)


def _data(report: dict) -> str:
    rows = [[name.replace("_", " "), str(value)] for name, value in report["data"].items() if not isinstance(value, dict)]
    used = ", ".join(f"{value}: {count}" for value, count in report["data"]["synthetic_rows_used"].items())
    rows.append(["synthetic rows used per utility run", used])
    note = (
        "Large inputs are subsampled, drawn from the first seed: the utility test uses at most max_rows training and "
        f"holdout rows (stratified by class, max_rows={report['settings']['max_rows']}), and DCR at most "
        f"max_privacy_rows={report['settings']['max_privacy_rows']} rows per side."
    )
    return _section("data", "Data", _table(["table", "rows"], rows) + f'<p class="note">{escape(note)}</p>')


def _quality(quality: dict) -> str:
    properties = [[name, _number(score)] for name, score in quality["properties"].items()]
    shapes = [[item["column"], item["metric"], _number(item["score"])] for item in quality["column_shapes"]]
    content = (
        f"<p>SDMetrics QualityReport score on the minority rows: <b>{_number(quality['score'])}</b>.</p>"
        + _table(["property", "score"], properties)
        + _table(["column", "metric", "score"], shapes)
    )
    return _section("quality", "Quality (SDMetrics QualityReport)", content)


def _diagnostic(diagnostic: dict) -> str:
    properties = [[name, _number(score)] for name, score in diagnostic["properties"].items()]
    validity = [[item["column"], item["metric"], _number(item["score"])] for item in diagnostic["data_validity"]]
    content = (
        f"<p>SDMetrics DiagnosticReport score: <b>{_number(diagnostic['score'])}</b>.</p>"
        + _table(["property", "score"], properties)
        + _table(["column", "metric", "score"], validity)
    )
    return _section("diagnostic", "Diagnostic (SDMetrics DiagnosticReport)", content)


def _distributions(distributions: list[dict]) -> str:
    figures = []
    for item in distributions:
        if "edges" in item:
            chart = svg.histogram(item["column"], item["edges"], item["real"], item["synthetic"])
        else:
            chart = svg.grouped_bars(item["column"], item["categories"], item["real"], item["synthetic"])
        figures.append(_figure("distribution", chart))
    return _section("distributions", "Column distributions, real and synthetic", f'<div class="plots">{"".join(figures)}</div>')


def _pair_trends(associations: dict) -> str:
    columns = associations["columns"]
    real, synthetic = associations["real"], associations["synthetic"]
    difference = [[abs(s - r) for r, s in zip(real_row, synthetic_row)] for real_row, synthetic_row in zip(real, synthetic)]
    figures = [
        _figure("heatmap-real", svg.heatmap("real", columns, real)),
        _figure("heatmap-synthetic", svg.heatmap("synthetic", columns, synthetic)),
        _figure("heatmap-difference", svg.heatmap("absolute difference", columns, difference)),
    ]
    note = f"Measure: {associations['measure']}. Hover a cell for its value."
    return _section("pair-trends", "Pair trends", f'<p class="note">{escape(note)}</p><div class="plots">{"".join(figures)}</div>')


def _detection(detection: dict) -> str:
    rows = [
        ["real vs synthetic", _spread(detection["roc_auc"]), str(detection["rows_per_side"])],
        ["training vs holdout (real baseline)", _spread(detection["baseline_roc_auc"]), str(detection["baseline_rows_per_side"])],
    ]
    note = (
        f"{detection['classifier']}. ROC AUC 0.5 means the classifier cannot tell the samples apart; 1.0 means it "
        f"separates them perfectly. Detection score 1 - (2 max(AUC, 0.5) - 1) = {_number(detection['detection_score'])}."
    )
    content = _table(["test", "ROC AUC", "rows per side"], rows) + f'<p class="note">{escape(note)}</p>'
    return _section("detection", "Classifier two-sample test", content)


def _privacy(privacy: dict) -> str:
    dcr = privacy["dcr"]
    rows = [
        ["exact-copy share", f"{privacy['exact_copy_share']:.4f}", f"{privacy['holdout_exact_copy_share']:.4f}"],
        *[[f"DCR {name}", _number(dcr["synthetic"][name], 4), _number(dcr["holdout"][name], 4)] for name in dcr["synthetic"]],
    ]
    chart = svg.histogram(
        "distance to closest training record", privacy["histogram"]["edges"], privacy["histogram"]["holdout"],
        privacy["histogram"]["synthetic"], labels=("holdout", "synthetic"),
    )
    note = (
        f"{privacy['distance']}. {privacy['share_closer_than_holdout_p05']:.2%} of synthetic rows are closer to a "
        "training row than the 5% closest real holdout rows; about 5% is expected from rows the model did not copy."
    )
    content = _table(["measure", "synthetic", "real holdout"], rows) + _figure("privacy-histogram", chart)
    return _section("privacy", "Privacy", content + f'<p class="note">{escape(note)}</p>')


def _utility(utility: dict) -> str:
    rows = [
        [strategy["name"], str(strategy["train_rows"]), str(strategy["train_minority_rows"])]
        + [_spread(strategy["metrics"][metric]) for metric in METRICS]
        for strategy in utility["strategies"]
    ]
    header = ["strategy", "training rows", "minority rows", *[METRIC_NAMES[metric] for metric in METRICS]]
    series = [(item["name"], item["pr_curve"]["recall"], item["pr_curve"]["precision"]) for item in utility["strategies"]]
    chart = svg.curves("precision-recall, first seed", series, x_label="recall", y_label="precision")
    descriptions = "".join(f"<li><b>{escape(item['name'])}</b>: {escape(item['description'])}</li>" for item in utility["strategies"])
    note = (
        f"{utility['classifier']}, trained to tell minority from majority rows and scored on "
        f"{utility['holdout_rows']} real holdout rows ({utility['holdout_minority_rows']} minority); mean ± standard "
        f"deviation over seeds {utility['seeds']}. Precision, recall and F1 use the threshold 0.5."
    )
    content = (
        f"<ul>{descriptions}</ul>" + _table(header, rows) + f'<p class="note">{escape(note)}</p>' + _figure("pr-curves", chart)
    )
    return _section("utility", "Downstream utility", content)
