"""Capacity simulation (容量推演): a district's load replayed on the simulated clock through the real engine and the
real diagrams, on a scratch database, to see backlogs and overdue counts before they happen.

* scenario.py — the YAML scenario and its checks;
* plan.py — when which application arrives and what becomes of it (seeded, decided before the run);
* setup.py — the scratch database's district, staff accounts, standards; the run's calendar;
* forms.py — the valid form data simulated staff submit;
* run.py — the day loop (sweeps, messages, arrivals, work up to capacity); results.py — what a run hands back;
* reviews.py — periodic reviews of households put on the register for the run;
* compare.py — staffing options side by side (`--vary`);
* report.py and chart.py — the weekly figures per street and step, report.csv and report.html.

`web/cli_simulate.py` is the command (`jiuzhu simulate`); docs/simulation.md explains the model.
"""
from __future__ import annotations

from .report import Row, summarize, summary_lines, weekly_rows, write_csv
from .results import Progress, RunResult
from .run import Simulation, SimulationError
from .scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["Progress", "Row", "RunResult", "Scenario", "ScenarioError", "Simulation", "SimulationError",
           "load_scenario", "parse_scenario", "summarize", "summary_lines", "weekly_rows", "write_csv"]
