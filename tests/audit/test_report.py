"""The JSON report against its published schema, and the HTML page in headless Chromium without network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import jsonschema
import pytest

from generator.audit import report_schema, validate_report, write_report
from generator.audit.report_html import SECTIONS
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--dump-dom",
]
PLOTS = ("distribution", "heatmap-real", "heatmap-synthetic", "heatmap-difference", "pr-curves", "privacy-histogram")


def test_report_matches_schema(standin_report):
    validate_report(standin_report)


def test_report_schema_rejects_missing_section(standin_report):
    broken = {key: value for key, value in standin_report.items() if key != "privacy"}

    with pytest.raises(jsonschema.ValidationError, match="'privacy' is a required property"):
        validate_report(broken)


def test_report_schema_published_copy_identical():
    published = json.loads((ROOT / "docs" / "audit-report.schema.json").read_text(encoding="utf-8"))

    assert published == report_schema()


def test_write_report_round_trip(standin_report, tmp_path):
    json_path, html_path = write_report(standin_report, tmp_path / "audit")

    assert json.loads(json_path.read_text(encoding="utf-8")) == standin_report
    assert html_path.name == "audit.html"
    assert sorted(path.name for path in (tmp_path / "audit").iterdir()) == ["audit.html", "audit.json"]


def test_html_self_contained(standin_report, tmp_path):
    _, html_path = write_report(standin_report, tmp_path)
    html = html_path.read_text(encoding="utf-8")

    assert "<script" not in html
    references = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert references == ["data:,"]
    assert "url(" not in html
    assert "@import" not in html


def _render(url: str, profile) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
        capture_output=True, text=True, timeout=120, check=True,
    )


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed; install it with `apt-get install -y chromium`")
def test_html_renders_in_chromium(standin_report, tmp_path):
    _, html_path = write_report(standin_report, tmp_path / "report")

    rendered = _render(html_path.as_uri(), tmp_path / "profile")

    dom = rendered.stdout
    assert _console_messages(rendered.stderr) == []
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom, section
    for plot in PLOTS:
        assert f'<figure data-plot="{plot}">' in dom, plot
    # One distribution per column that is not an identifier: all 18 columns of online shoppers.
    assert dom.count('<figure data-plot="distribution">') == 18
    assert dom.count("<svg") == 18 + 3 + 2
    assert "longtail is" in dom


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed; install it with `apt-get install -y chromium`")
def test_chromium_console_capture_catches_errors(tmp_path):
    # Guards the test above: a page that logs an error must show up in the captured console.
    page = tmp_path / "error.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("audit-test-marker")</script></body></html>')

    rendered = _render(page.as_uri(), tmp_path / "profile")

    assert any("audit-test-marker" in line for line in _console_messages(rendered.stderr))


def test_audit_package_public_names():
    import generator.audit

    assert generator.audit.__all__ == ["AuditProgress", "report_schema", "run_audit", "validate_report", "write_report"]
