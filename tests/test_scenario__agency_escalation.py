"""An agency's late task climbs its own chain, with the simulated clock and the deadline sweeps: the 区教委 officer's
task (2 working days) goes overdue, is escalated to 区教委's lead — the event names the agency, 区教委's lead finds
it among the copies and 区残联's lead does not — and, still open two working days later, to the leading group's
supervisor (区民政局), the top of the chain."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.models import OutboxEvent
from tests.agency_cases import agency_case, deploy_agency_process
from tests.test_scenario__deadlines import counts, move_to, task_row
from tests.ui_pages import PageClient


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def outbox_payloads(app, event_type: str) -> list[dict]:
    from web.extensions import db

    with app.app_context():
        found = [e.payload for e in db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id))]
        db.session.remove()
    return found


def copied(app, username: str) -> str:
    return PageClient(app, username).text("/inbox?tab=copied")


def test_agency_escalation__officer_to_lead_to_supervisor(app, login):
    deploy_agency_process(login, "agency_demo", "区教委", due=2, name="教委核查")
    case = agency_case(app, "agency_demo", program="zhukun", name="王五")
    # Opened Monday 2 March 09:00; 2 working days, the day itself not counted: Tue 3, Wed 4 → due 24:00 Wed 4.
    row = task_row(app, case.task_id)
    assert row.agency == "区教委" and row.role == "agency_officer"
    assert row.due_at == at("2026-03-05T00:00:00+08:00") and row.next_escalation_at == row.due_at

    move_to(login, at("2026-03-04T23:59:00+08:00"))
    assert ("overdue", 0) not in counts(app, case.task_id)["events"]
    assert "王五" not in copied(app, "jiaowei_lead")

    # Overdue at 24:00 Wednesday: the officers are told (their group, their agency), the agency's lead is escalated to.
    move_to(login, at("2026-03-05T00:00:01+08:00"))
    events = counts(app, case.task_id)["events"]
    assert events[("overdue", 0)] == 1 and events[("escalated", 1)] == 1
    row = task_row(app, case.task_id)
    assert row.escalation_level == 1 and row.escalate_to == "agency_lead"
    # The next level after two more working days still open: Thu 5, Fri 6 → 00:00 Sat 7 March.
    assert row.next_escalation_at == at("2026-03-07T00:00:00+08:00")
    [overdue] = outbox_payloads(app, "task.overdue")
    assert overdue["recipients"] == {"role": "agency_officer", "district": "示范区", "street": "和平街道",
                                     "community": "和平里社区", "agency": "区教委"}
    [escalated] = outbox_payloads(app, "task.escalated")
    assert escalated["recipients"] == {"role": "agency_lead", "district": "示范区", "street": None,
                                       "community": None, "agency": "区教委"}
    assert escalated["level"] == 1
    # 区教委's lead has it among the copies; another agency's lead, the street and (not yet) the supervisor do not.
    lead = copied(app, "jiaowei_lead")
    assert "王五" in lead and "超期督办：「教委核查」超期未办" in lead
    assert "王五" not in copied(app, "canlian_lead")
    assert "王五" not in copied(app, "jd_heping_lead")
    assert "王五" not in copied(app, "supervisor")
    # The lead sees the late task (its agency's) but it stays on the officers' desk.
    assert case.task_id in {t["id"] for t in login("jiaowei_lead").get("tasks?view=all").get_json()["items"]}
    assert case.task_id not in {t["id"] for t in login("canlian_lead").get("tasks?view=all").get_json()["items"]}
    assert [t["id"] for t in login("jiaowei").get("tasks?view=todo&overdue=1").get_json()["items"]] == [case.task_id]

    # Still open after Thursday and Friday: the leading group's supervisor, the top — no agency on that level.
    move_to(login, at("2026-03-06T23:59:00+08:00"))
    assert ("escalated", 2) not in counts(app, case.task_id)["events"]
    move_to(login, at("2026-03-07T00:00:01+08:00"))
    row = task_row(app, case.task_id)
    assert row.escalation_level == 2 and row.escalate_to == "supervisor" and row.next_escalation_at is None
    top = outbox_payloads(app, "task.escalated")[-1]
    assert top["recipients"] == {"role": "supervisor", "district": "示范区", "street": None, "community": None}
    assert "王五" in copied(app, "supervisor")
    move_to(login, at("2026-04-30T09:00:00+08:00"))  # nothing above the supervisor, ever
    assert counts(app, case.task_id)["events"] == {("overdue", 0): 1, ("escalated", 1): 1, ("escalated", 2): 1}

    # The supervisor's report shows it under 区教委, escalated; the case history names both targets.
    report = login("supervisor").get("reports/overdue?group_by=agency").get_json()
    jiaowei = next(g for g in report["items"] if g["key"] == "区教委")
    assert jiaowei["overdue"] == 1 and jiaowei["escalated"] == 1
    history = login("jiaowei").get(f"cases/{case.id}").get_json()["history"]
    assert [h["detail"]["target_role"] for h in history if h["action"] == "task_escalated"] == [
        "agency_lead", "supervisor"]
