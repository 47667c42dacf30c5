"""Writing and validating audit reports."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from generator.audit.report_html import render_html

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
JSON_NAME = "audit.json"
HTML_NAME = "audit.html"


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `report` as `audit.json` and `audit.html` into `out_dir`, creating it; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / JSON_NAME
    html_path = out_dir / HTML_NAME

    # Write to temporary names first, so a reader never sees half a report.
    for path, text in ((json_path, json.dumps(report, indent=2, allow_nan=False)), (html_path, render_html(report))):
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    logger.info("Wrote audit report to %s and %s", json_path, html_path)
    return json_path, html_path


def report_schema() -> dict:
    """Return the JSON schema of audit reports, as published in docs/audit-report.schema.json."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_report(report: dict) -> None:
    """Raise jsonschema.ValidationError when `report` does not match the published schema."""
    import jsonschema  # imported here because only validation needs it

    jsonschema.validate(report, report_schema(), cls=jsonschema.Draft202012Validator)
