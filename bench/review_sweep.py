"""The review sweep starting 10,000 due reviews on PostgreSQL (issue: after approval, items 4 and 7).

Loads BENCH_REVIEWS (default 10,000) recipients of 低保 in the demo district, all due for their periodic review
today, into BENCH_REVIEW_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_review,
dropped and created afresh each run; the app's own migrations make the schema), then times one
`sweep_due_reviews` — the function the worker's `reviews` sweep runs — which starts every review: per recipient
the row claimed with FOR UPDATE SKIP LOCKED, a `Review` row, `engine.start` of `dibao_review` (one transaction)
and the `review.open` step that reads the register and opens the survey task (another transaction).

Printed beside it, measured in the same run: the floor — the same two steps of the same diagram by SpiffWorkflow
alone in this process (start, serialise, restore, deliver the message, run the script with a stub, serialise; no
database, no sandbox runner) — and the ratio.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench.floors import fresh_database, rate_ratio
from engine.definitions import compile_bpmn
from engine.serialization import dump_state, load_state
from engine.waiting import message_definition
from web.app import create_app
from web.cli import bpmn_dir, deploy_files, upgrade_database
from web.extensions import db
from workflows.demo import seed
from workflows.register.models import Review
from workflows.register.reviews import OPEN_MESSAGE, REVIEW_PROCESS_KEY, sweep_due_reviews

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_review"
NOW = datetime.fromisoformat("2026-06-15T10:00:00+08:00")  # a Monday
HOUSEHOLD = ('{"members": [{"name": "王建国", "id_number": "110105197001010011", "relation": "本人", '
             '"birth_date": "1970-01-01", "work_capacity": "partial"}, {"name": "王小明", '
             '"id_number": "110105201506010013", "relation": "子女", "birth_date": "2015-06-01", '
             '"work_capacity": "none"}]}')
STREETS = ("和平街道", "安定街道")
COMMUNITIES = {"和平街道": "和平里社区", "安定街道": "安定门社区"}


def _load(count: int) -> None:
    """`count` approved cases and their recipients, due today (set-based SQL)."""
    db.session.execute(text("""
        INSERT INTO cases (program, district, street, community, applicant_name, applicant_id_number, household,
                           household_size, declared_monthly_income, status, stage, relatives_filed, objected,
                           created_by, created_at, updated_at)
        SELECT 'dibao', '示范区', CASE WHEN g % 2 = 0 THEN '和平街道' ELSE '安定街道' END,
               CASE WHEN g % 2 = 0 THEN '和平里社区' ELSE '安定门社区' END, '王建国', '110105197001010011',
               CAST(:household AS json), 2, 800, 'approved', '已批准', false, false, 'bench', :now, :now
        FROM generate_series(1, :count) AS g"""), {"household": HOUSEHOLD, "now": NOW, "count": count})
    db.session.execute(text("""
        INSERT INTO recipients (case_id, program, rule_set, district, street, community, area, head_name,
                                head_id_number, household, household_size, monthly_income, category, monthly_amount,
                                breakdown, status, since_month, next_review_due, labour_refusals, created_at,
                                updated_at)
        SELECT id, 'dibao', 'dibao', district, street, community, 'urban', applicant_name, applicant_id_number,
               household, 2, 800, 'stable', 2269, CAST('{"total": "2269.00"}' AS json), 'active', '2025-12',
               CAST(:today AS date), CAST('{}' AS json), :now, :now
        FROM cases"""), {"today": NOW.date().isoformat(), "now": NOW})
    db.session.commit()


def spiff_floor(xml: bytes, count: int = 300) -> float:
    """Reviews started per second by SpiffWorkflow alone: the sweep's two steps, in memory."""
    definition = compile_bpmn(xml)
    spec, subs = definition.spec, definition.subprocess_specs
    summary = {"head_name": "王*国", "household_size": 2, "monthly_amount": "2269.00"}
    script_engine = PythonScriptEngine(environment=TaskDataEnvironment({"review_recipient": lambda _id: summary}))
    started = time.perf_counter()
    for number in range(count):
        workflow = BpmnWorkflow(spec, subs, script_engine=script_engine)
        workflow.get_tasks()[0].set_data(review_id=number, recipient_id=number, trigger="periodic")
        workflow.do_engine_steps()
        state = dump_state(workflow)
        workflow = load_state(state, spec, subs)
        workflow.script_engine = script_engine
        workflow.send_event(BpmnEvent(message_definition(workflow, OPEN_MESSAGE), payload={"review_id": number}))
        workflow.do_engine_steps()
        dump_state(workflow)
    return count / (time.perf_counter() - started)


def run() -> dict:
    url = os.environ.get("BENCH_REVIEW_DATABASE_URL", DEFAULT_URL)
    count = int(os.environ.get("BENCH_REVIEWS", "10000"))
    if make_url(url).get_backend_name() != "postgresql":
        raise SystemExit("the review sweep benchmark needs PostgreSQL (BENCH_REVIEW_DATABASE_URL)")
    fresh_database(url)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "JIUZHU_CLOCK": "simulated",
                      "JIUZHU_CLOCK_START": NOW.isoformat(), "JIUZHU_ENV": "development"})
    with app.app_context():
        upgrade_database()
        seed(db.session)
        deploy_files(sorted(bpmn_dir().glob("*.bpmn")), echo=lambda *_: None)
        xml = (bpmn_dir() / "dibao_review.bpmn").read_bytes()
        engine = app.extensions["jiuzhu.engine"]
        began = time.perf_counter()
        _load(count)
        print(f"   loaded {count:,} recipients due today in {time.perf_counter() - began:.1f} s", flush=True)
        began = time.perf_counter()
        handled = sweep_due_reviews(db.session, engine, engine.now())
        seconds = time.perf_counter() - began
        started = db.session.scalar(select(func.count()).select_from(Review))
        assert handled == started == count, (handled, started, count)
        tasks = db.session.scalar(text("SELECT count(*) FROM human_tasks WHERE element_id = 'review_survey' "
                                       "AND status = 'open'"))
        assert tasks == count, tasks
        db.session.remove()
    rate = count / seconds
    floor = spiff_floor(xml)
    print(f"   review sweep: {count:,} reviews of {REVIEW_PROCESS_KEY} started in {seconds:.1f} s, "
          f"{rate_ratio(rate, floor, 'in-process floor')}; each open with its survey task in the street's inbox",
          flush=True)
    return {"reviews": count, "seconds": round(seconds, 1), "reviews_per_second": round(rate, 1),
            "floor_per_second": round(floor, 1), "ratio": round(rate / floor, 3)}


if __name__ == "__main__":
    run()
