"""Builds the engine for an app from its injected parts: session, script sandbox, calendar, listeners, clock, and
where the bpmnlint bundle the deploy checks run is (built into the app's static folder by `npm run build`)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from engine import clock as clock_module
from engine.calendar import BusinessCalendar
from engine.lint import configure_bpmnlint
from engine.runtime import Engine
from engine.script_runner import ScriptLimits
from engine.scripting import make_script_engine
from workflows.functions import FUNCTIONS
from workflows.listener import CaseProjection, DropFinishedDrafts
from workflows.register.exits import exit_months_setting
from workflows.register.listener import RegisterEnrolment
from workflows.register.review_listener import ReviewOutcome
from workflows.register.reviews import REVIEW_FUNCTIONS
from workflows.tasks.signers import SignerListener

from .engine_access import ENGINE_EXTENSION
from .extensions import db

log = logging.getLogger(__name__)

# The bundle of the modeler's bpmnlint rules, relative to the static folder (written by scripts/build-assets.mjs).
BPMNLINT_BUNDLE = Path("build") / "bpmnlint-node.cjs"


def build_engine(app: Flask) -> Engine:
    gradual_exit_months(app)  # a bad setting stops start-up, not the first finished review
    engine = Engine(
        lambda: db.session,
        script_engine=make_script_engine({**FUNCTIONS, **REVIEW_FUNCTIONS}, script_limits(app)),
        calendar=BusinessCalendar(),
        # RegisterEnrolment after CaseProjection: it reads the approval the projection has just written.
        listeners=[CaseProjection(), RegisterEnrolment(), ReviewOutcome(lambda: gradual_exit_months(app)),
                   DropFinishedDrafts(), SignerListener()],
    )
    app.extensions[ENGINE_EXTENSION] = engine
    configure_bpmnlint(bpmnlint_bundle(app))
    return engine


def gradual_exit_months(app: Flask) -> int:
    """JIUZHU_GRADUAL_EXIT_MONTHS (0–6, default 6): months a gradual exit keeps paying after the decision month."""
    return exit_months_setting(app.config.get("JIUZHU_GRADUAL_EXIT_MONTHS"))


def script_limits(app: Flask) -> ScriptLimits:
    """The limits every BPMN script and condition runs under (JIUZHU_SCRIPT_CPU_SECONDS, _MEMORY_MB, _OUTPUT_KB)."""
    config = app.config
    limits = ScriptLimits(
        cpu_seconds=float(config.get("JIUZHU_SCRIPT_CPU_SECONDS") or 2),
        memory_mb=int(config.get("JIUZHU_SCRIPT_MEMORY_MB") or 256),
        output_kb=int(config.get("JIUZHU_SCRIPT_OUTPUT_KB") or 1024),
    )
    if limits.cpu_seconds <= 0 or limits.memory_mb < 64 or limits.output_kb <= 0:
        raise ValueError("JIUZHU_SCRIPT_CPU_SECONDS must be > 0, JIUZHU_SCRIPT_MEMORY_MB ≥ 64 and "
                         "JIUZHU_SCRIPT_OUTPUT_KB > 0")
    return limits


def bpmnlint_bundle(app: Flask) -> Path | None:
    """Where this app's bpmnlint bundle is: under its static folder (None when the app serves no static files)."""
    return Path(app.static_folder) / BPMNLINT_BUNDLE if app.static_folder else None


def install_clock(app: Flask) -> clock_module.Clock:
    if app.config["JIUZHU_CLOCK"] == "simulated":
        start_text = app.config.get("JIUZHU_CLOCK_START")
        start = datetime.fromisoformat(start_text) if start_text else datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("JIUZHU_CLOCK_START needs a zone, e.g. 2026-09-24T09:00:00+08:00")
        return clock_module.install(clock_module.SimulatedClock(start))
    if app.config["JIUZHU_CLOCK"] != "system":
        raise ValueError("JIUZHU_CLOCK must be system or simulated")
    return clock_module.install(clock_module.SystemClock())


def sync_simulated_clock() -> None:
    """Adopt the simulated instant stored in the database, so every process agrees on the time."""
    clock_module.sync_with_database(db.session)


def advance_simulated_clock(delta) -> datetime:
    return clock_module.advance_in_database(db.session, delta)
