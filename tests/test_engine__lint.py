"""engine.lint's bpmnlint bundle is configuration: the web layer names it (from its static folder) when it builds the
engine; unnamed or missing, bpmnlint is reported as not run, never as a crash."""
from __future__ import annotations

from pathlib import Path

from engine import lint
from web.engine_setup import bpmnlint_bundle

DIAGRAM = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
           b'targetNamespace="http://jiuzhu.test"><bpmn:process id="p" isExecutable="true">'
           b'<bpmn:startEvent id="s" /></bpmn:process></bpmn:definitions>')


def test_lint__the_app_names_the_bundle_in_its_static_folder(app):
    expected = Path(app.static_folder) / "build" / "bpmnlint-node.cjs"
    assert bpmnlint_bundle(app) == expected
    assert lint.BPMNLINT_RUNNER == expected


def test_lint__unconfigured_bpmnlint_is_reported_not_run(monkeypatch):
    monkeypatch.setattr(lint, "BPMNLINT_RUNNER", None)
    lint.clear_cache()
    assert not lint.bpmnlint_available()
    report = lint.run_bpmnlint(DIAGRAM)
    assert report.findings == []
    assert report.unavailable is not None and "bpmnlint" in report.unavailable


def test_lint__configure_names_the_bundle_and_forgets_old_reports(monkeypatch, tmp_path):
    monkeypatch.setattr(lint, "BPMNLINT_RUNNER", None)
    lint.configure_bpmnlint(tmp_path / "bundle.cjs")
    assert lint.BPMNLINT_RUNNER == tmp_path / "bundle.cjs"
    assert not lint.bpmnlint_available()  # named, but not built there
    lint.configure_bpmnlint(None)
    assert lint.BPMNLINT_RUNNER is None
