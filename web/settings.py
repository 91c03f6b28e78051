"""Every setting, declared once with its default and help text (README's settings table is checked against it)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, "SQLAlchemy URL; default is a SQLite file instance/jiuzhu.db. PostgreSQL: "
            "postgresql+psycopg://user@host:5432/db"),
    Setting("PORT", "5000", "port `jiuzhu serve` listens on (127.0.0.1)"),
    Setting("WEB_CONCURRENCY", "2", "number of gunicorn worker processes of `jiuzhu serve`"),
    Setting("JIUZHU_ENV", "development", "development or production; production refuses demo data and needs "
            "SECRET_KEY"),
    Setting("SECRET_KEY", None, "signs sessions and API tokens; a random per-database key is used when unset "
            "outside production"),
    Setting("JIUZHU_CLOCK", "system", "system, or simulated (tests, demos, capacity simulation)"),
    Setting("JIUZHU_CLOCK_START", None, "ISO instant where a simulated clock starts (default: now)"),
    Setting("JIUZHU_TOKEN_HOURS", "12", "lifetime of an API token in hours"),
    Setting("JIUZHU_SWEEP_SECONDS", "30", "how often the worker runs its sweeps"),
    Setting("JIUZHU_ESCALATION_WORKING_DAYS", "2", "working days an overdue task stays at one escalation level "
            "before it goes one level up (street → district → supervisor)"),
    Setting("JIUZHU_BPMN_DIR", None, "folder of *.bpmn deployed at start-up when changed (default: the "
            "project's bpmn/)"),
    Setting("JIUZHU_WEBHOOK_SECRETS", None, "inbound webhook secrets, source=secret pairs separated by commas"),
    Setting("JIUZHU_SCRIPT_CPU_SECONDS", "2", "CPU seconds one BPMN script or condition may use before its step fails"),
    Setting("JIUZHU_SCRIPT_MEMORY_MB", "256", "memory (MB) the script runner process may hold"),
    Setting("JIUZHU_SCRIPT_OUTPUT_KB", "1024", "largest task data (KB, as JSON) a script may leave behind"),
    Setting("JIUZHU_SESSION_IDLE_MINUTES", "30", "a page session or API token unused this long is ended"),
    Setting("JIUZHU_HTTPS", "false", "true when served over HTTPS: session cookies get the Secure flag"),
    Setting("JIUZHU_GRADUAL_EXIT_MONTHS", "6", "months (0–6) a gradual exit (救助渐退) keeps paying after the "
            "decision month before the recipient is stopped"),
    Setting("JIUZHU_PROXY_COUNT", "0", "number of reverse proxies in front of the app whose X-Forwarded-For / "
            "X-Forwarded-Proto are trusted (werkzeug ProxyFix); 0 = none, the client address is the socket's"),
    Setting("JIUZHU_TEST_DATABASE_URL", None, "tests only: run the suite against this database (PostgreSQL in CI)"),
)


def from_environment(env=os.environ) -> dict[str, str | None]:
    return {s.name: env.get(s.name, s.default) for s in SETTINGS}
