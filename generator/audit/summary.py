"""Plain-language comparison of longtail's utility with each baseline strategy."""

from __future__ import annotations

from generator.audit.utility import METRICS

# A difference counts only when it exceeds the two spreads added together, and at least this much.
MIN_MARGIN = 0.005
METRIC_NAMES = {"precision": "precision", "recall": "recall", "f1": "F1", "pr_auc": "PR-AUC", "roc_auc": "ROC-AUC"}
STRATEGY_NAMES = {
    "real": "the real data alone",
    "class_weights": "class weights",
    "random_oversampling": "random oversampling",
    "smote": "SMOTE",
}
THRESHOLD_NOTE = (
    "PR-AUC is the primary figure. Rebalancing mostly moves a classifier's decision threshold, so precision, recall "
    "and F1 at the fixed threshold 0.5 reward a threshold shift more than better rows; PR-AUC and ROC-AUC do not "
    "depend on the threshold."
)


def compare_strategies(utility: dict) -> dict:
    """Return one verdict per baseline strategy and metric: longtail better, worse, or no clear difference."""
    strategies = {strategy["name"]: strategy for strategy in utility["strategies"]}
    longtail = strategies["longtail"]
    comparisons = []
    for name in STRATEGY_NAMES:
        baseline = strategies[name]
        for metric in METRICS:
            comparisons.append(_compare(longtail, baseline, metric))

    primary = [item for item in comparisons if item["metric"] == utility["primary_metric"]]
    return {
        "primary_metric": utility["primary_metric"],
        "note": THRESHOLD_NOTE,
        "headline": [item["sentence"] for item in primary],
        "comparisons": comparisons,
    }


def _compare(longtail: dict, baseline: dict, metric: str) -> dict:
    ours = longtail["metrics"][metric]
    theirs = baseline["metrics"][metric]
    difference = ours["mean"] - theirs["mean"]
    margin = max(ours["std"] + theirs["std"], MIN_MARGIN)
    if difference > margin:
        verdict = "better"
    elif difference < -margin:
        verdict = "worse"
    else:
        verdict = "no clear difference"
    return {
        "baseline": baseline["name"],
        "metric": metric,
        "longtail": ours["mean"],
        "baseline_value": theirs["mean"],
        "difference": difference,
        "verdict": verdict,
        "sentence": _sentence(metric, verdict, ours, theirs, _baseline_name(baseline), difference),
    }


def _baseline_name(baseline: dict) -> str:
    return baseline.get("method") or STRATEGY_NAMES[baseline["name"]]


def _sentence(metric: str, verdict: str, ours: dict, theirs: dict, baseline: str, difference: float) -> str:
    figures = f"longtail {ours['mean']:.3f} ± {ours['std']:.3f} against {theirs['mean']:.3f} ± {theirs['std']:.3f}"
    name = METRIC_NAMES[metric]
    if verdict == "no clear difference":
        return f"On {name}, longtail and {baseline} are within their spread of each other ({figures})."
    return f"On {name}, longtail is {verdict} than {baseline} by {abs(difference):.3f} ({figures})."
