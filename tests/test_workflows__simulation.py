"""The capacity simulation (workflows.simulation) against known answers, through the real engine and diagrams.

The small scenario: March 2026 (no holiday), every application in 安定街道, two a working day (44 in March's 22
working days), nothing refused, the economic check answering the same day, every role unlimited but one. A task
that appears during a day is worked the next working day, so an application of day k reaches 街道审核 on day k+4
and the street reviewer can take it from day k+5. With the reviewer doing C a day against 2 arriving, the open
街道审核 tasks at the end of working day n are 2(n−4) − C(n−5): for C = 1 that is n − 3, one more every day (the
difference), five more every week.
"""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.models import HumanTask, TaskStatus
from web.deadline_service import deadlines
from web.extensions import db
from workflows.simulation import ScenarioError, Simulation, parse_scenario, summary_lines, weekly_rows
from workflows.simulation.plan import arrival_plan, split, spread
from workflows.simulation.report import summarize, totals

STREET = "安定街道"


def scenario(role: str, people: int, per_day: int = 1, **extra) -> dict:
    raw = {
        "name": "已知答案", "start": "2026-03-02", "months": 1, "seed": 3,
        "arrivals": {"dibao": {"per_month": 44, "streets": {STREET: 1.0, "和平街道": 0.0}}},
        "economic_check": {"reply_after_working_days": 0},
        "staff": {STREET: {role: {"people": people, "tasks_per_day": per_day}}},
    }
    raw.update(extra)
    return raw


def run(app, engine, raw: dict):
    with app.app_context():
        result = Simulation(db.session, engine, deadlines(app), parse_scenario(raw)).run()
        marked = [(t.due_at, t.overdue_at) for t in db.session.scalars(
            select(HumanTask).where(HumanTask.status == TaskStatus.OPEN, HumanTask.due_at.is_not(None)))]
        db.session.remove()
    return result, weekly_rows(result), marked


def step_rows(rows, step: str, street: str = STREET):
    return sorted((r for r in rows if r.step == step and r.street == street), key=lambda r: r.week.number)


def test_simulation__plan_spreads_months_over_working_days_and_streets():
    assert spread(44, 22) == [2] * 22
    assert spread(10, 4) == [2, 3, 2, 3] and sum(spread(300, 21)) == 300
    assert split(301, {"a": 0.5, "b": 0.5}) == {"a": 151, "b": 150}
    assert split(10, {"a": 0.34, "b": 0.33, "c": 0.33}) == {"a": 4, "b": 3, "c": 3}
    parsed = parse_scenario(scenario("street_reviewer", 1))
    plan = arrival_plan(parsed, lambda d: d.weekday() < 5)
    march = [d for d in plan if d.month == 3]
    assert len(march) == 22 and all(len(plan[d]) == 2 for d in march)
    assert {a.street for items in plan.values() for a in items} == {STREET}
    assert {a.community for a in plan[date(2026, 3, 2)]} == {"安定门社区", "安定西社区"}  # they take turns
    # The same seed gives the same applications and fates.
    again = arrival_plan(parse_scenario(scenario("street_reviewer", 1)), lambda d: d.weekday() < 5)
    assert again == plan


@pytest.mark.slow
def test_simulation__capacity_below_arrivals_grows_the_backlog_by_the_difference(app, engine, db):
    result, rows, _marked = run(app, engine, scenario("street_reviewer", 1))
    review = step_rows(rows, "dibao/street_review")
    # Week ends after working days 5, 10, 15, 20 and (1 April) 23: n − 3 open 街道审核 tasks.
    backlog = [r.backlog for r in review]
    assert backlog == [2, 7, 12, 17, 20]
    assert [backlog[i + 1] - backlog[i] for i in range(3)] == [5, 5, 5]  # 5 working days × (2 − 1)
    assert [r.completed for r in review] == [0, 5, 5, 5, 3]  # one a working day from day 6
    assert sum(r.arrived for r in review) == 2 * 19  # applications of days 1..19 reached the review
    # The unlimited steps before it keep up: only the day's new tasks are open at a week's end.
    assert [r.backlog for r in step_rows(rows, "dibao/appraisal")] == [2, 2, 2, 2, 2]
    assert step_rows(rows, "dibao/accept", "和平街道")[0].arrived == 0
    opened = sum(len(items) for items in arrival_plan(result.scenario, lambda d: d.weekday() < 5).values())
    assert opened == 46 and sum(result.cases.values()) == 46  # 44 in March, 2 on 1 April
    assert result.cases.get("refused", 0) == 0
    assert result.days == 31 and result.working_days == 23 and result.days_per_second > 0


@pytest.mark.slow
def test_simulation__capacity_above_arrivals_keeps_no_backlog(app, engine, db):
    result, rows, _marked = run(app, engine, scenario("street_reviewer", 1, per_day=3))
    review = step_rows(rows, "dibao/street_review")
    # Only the tasks that appeared on the week's last working day wait for Monday.
    assert [r.backlog for r in review] == [2, 2, 2, 2, 2]
    whole = [s for s in summarize(rows) if s.street == STREET][0]
    assert whole.peak_overdue == 0 and whole.within_share == 1.0
    assert result.cases["approved"] > 0
    assert any("安定街道" in line for line in summary_lines(result, rows))


@pytest.mark.slow
def test_simulation__late_tasks_are_predicted_overdue(app, engine, db):
    """民主评议 (5 working days) with one community worker's task a day against two arriving: the j-th (from 0) is
    created on day 4 + j//2, due at 24:00 of day 9 + j//2 and done on day 5 + j — late from j = 9 on. Overdue means
    strictly past that instant: at a Sunday's end a task due on the Friday is overdue; at the run's end (24:00 of
    1 April, day 23) one due that very day is not yet."""
    result, rows, marked = run(app, engine, scenario("community_worker", 1))
    appraisal = step_rows(rows, "dibao/appraisal")

    def expected(n: int, *, weekend_after: bool = True) -> int:
        last_due = n if weekend_after else n - 1
        return sum(1 for j in range(200) if 4 + j // 2 <= n and 9 + j // 2 <= last_due and n < 5 + j)

    weekly = [expected(n) for n in (5, 10, 15, 20)] + [expected(23, weekend_after=False)]
    assert [r.overdue for r in appraisal] == weekly == [0, 0, 3, 8, 9]
    assert [r.backlog for r in appraisal] == [n - 2 for n in (5, 10, 15, 20, 23)]  # 2(n − 3) arrived, n − 4 done
    done_late = sum(r.limited_completed - r.within for r in appraisal)
    assert done_late == sum(1 for j in range(200) if 5 + j <= 23 and 5 + j > 9 + j // 2)
    # The deadline sweep marked every open task past its time, as the supervisors' board shows them.
    end = datetime.combine(result.scenario.end, time(0), tzinfo=SHANGHAI)
    assert marked and all(overdue is not None for due, overdue in marked if due < end)
    street_total = [r for r in totals(rows) if r.street == STREET]
    assert max(r.overdue for r in street_total) == 9


@pytest.mark.parametrize("raw, key", [
    ({"months": 12}, "start"),
    ({"start": "2026-13-01"}, "start"),
    ({"start": "2026-03-02", "montsh": 3}, "montsh"),
    ({"start": "2026-03-02", "arrivals": {"dibao": {"per_month": -5}}}, "arrivals.dibao.per_month"),
    ({"start": "2026-03-02", "arrivals": {"tekun": 10}}, "arrivals.tekun"),
    ({"start": "2026-03-02", "arrivals": {"dibao": {"per_month": 3, "streets": {"和平街道": 0.5}}}},
     "arrivals.dibao.streets"),
    ({"start": "2026-03-02", "arrivals": {"dibao": 3},
      "staff": {"安定街道": {"street_clerk": {"people": "two", "tasks_per_day": 8}}}}, "staff.安定街道.street_clerk.people"),
    ({"start": "2026-03-02", "arrivals": {"dibao": 3}, "staff": {"安定街道": {"district_approver": {
        "people": 1, "tasks_per_day": 8}}}}, "staff.安定街道.district_approver"),
    ({"start": "2026-03-02", "arrivals": {"dibao": 3}, "staff": {"西城街道": {}}}, "staff.西城街道"),
    ({"start": "2026-03-02", "arrivals": {"dibao": 3}, "outcomes": {"objected": 1.5}}, "outcomes.objected"),
    ({"start": "2026-03-02", "arrivals": {"dibao": 3}, "calendar": {"holidays": ["2026-03-05"],
                                                                    "workdays": ["2026-03-05"]}}, "calendar"),
])
def test_simulation__bad_scenarios_name_the_key(raw, key):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert key in [k for k, _message in caught.value.problems], caught.value.problems
    assert all(message for _k, message in caught.value.problems)
