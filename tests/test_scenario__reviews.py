"""Dynamic management through the API with the simulated clock: a 6-monthly review comes due, the survey finds a
higher income, the district lowers the amount and the next run pays it; a gradual exit pays 6 more months and the
sweep then stops the recipient; a stop is applied once the written notice is served."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.scenario import advance
from tests.test_workflows__reviews import make_recipient
from web.extensions import db
from workflows.register.amounts import household_amount
from workflows.register.models import Recipient, RecipientChange, RecipientStatus
from workflows.register.standards import standard_in_force

pytestmark = pytest.mark.slow


class ReviewDriver:
    """Works the open review of one recipient through the task API, as the street and district staff would."""

    def __init__(self, login, recipient_id: int):
        self.login = login
        self.recipient_id = recipient_id

    def review(self, as_user="jd_heping") -> dict:
        response = self.login(as_user).get(f"reviews?recipient_id={self.recipient_id}")
        assert response.status_code == 200, response.get_json()
        items = response.get_json()["items"]
        assert items, "no review"
        return items[-1]

    def complete(self, element_id: str, user: str, data: dict, expect: int = 200) -> dict:
        instance_id = self.review(user)["process_instance_id"]
        client = self.login(user)
        items = client.get(f"tasks?process_instance_id={instance_id}&view=all").get_json()["items"]
        task = next(t for t in items if t["element_id"] == element_id and t["status"] == "open")
        if task["assignee"] is None:
            assert client.post(f"tasks/{task['id']}/claim").status_code == 200
        response = client.post(f"tasks/{task['id']}/complete", json={"data": data})
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def survey(self, items: list[dict], from_work: bool = False):
        self.complete("review_survey", "jd_heping", {
            "investigators": ["张伟", "李强"], "income_items": items, "income_from_work": from_work,
            "findings": "入户核实收入变化", "visited_on": "2026-04-03"})

    def decide(self, outcome: str, reason: str | None = None, expect: int = 200):
        self.complete("street_review", "jd_heping_lead", {"proposal": outcome, "opinion": reason or "同意"})
        return self.complete("district_decision", "qu_approver", {"outcome": outcome, "reason": reason,
                                                                   "opinion": "同意"}, expect=expect)


def recipient_state(app, recipient_id: int) -> tuple[Recipient, list[RecipientChange]]:
    with app.app_context():
        recipient = db.session.get(Recipient, recipient_id)
        changes = list(db.session.scalars(select(RecipientChange).where(RecipientChange.recipient_id == recipient_id)
                                          .order_by(RecipientChange.id)))
        db.session.expunge_all()
        return recipient, changes


def new_recipient(app, **kwargs) -> int:
    with app.app_context():
        recipient_id = make_recipient(db.session, next_review_due=date(2026, 4, 15), **kwargs).id
        db.session.remove()
    return recipient_id


def paid_in_run(login, month: str, recipient_id: int) -> Decimal | None:
    response = login("cz_payer").post("payment-runs", json={"program": "dibao", "month": month})
    assert response.status_code in (200, 201), response.get_json()
    run_id = response.get_json()["id"]
    lines = login("cz_payer").get(f"payment-runs/{run_id}/payments?limit=500").get_json()["items"]
    mine = [Decimal(str(line["amount"])) for line in lines if line["recipient_id"] == recipient_id]
    assert len(mine) <= 1
    return mine[0] if mine else None


def test_a_six_monthly_review_lowers_the_amount_and_the_next_run_pays_it(app, login):
    recipient_id = new_recipient(app)
    driver = ReviewDriver(login, recipient_id)
    assert login("jd_heping").get(f"reviews?recipient_id={recipient_id}").get_json()["items"] == []
    advance(login, "P31D")  # 2 April: due on 15 April, inside the sweep's lead time
    review = driver.review()
    assert (review["trigger"], review["due_date"], review["status"]) == ("periodic", "2026-04-15", "open")
    assert review["tasks"] == ["复核入户调查"]
    # Wages rose to 1200 a month; the scholarship is not counted (DOMAIN.md).
    driver.survey([{"type": "wage", "amount": 1200}, {"type": "scholarship", "amount": 500}])
    driver.decide("lower", "工资收入增加")
    recipient, changes = recipient_state(app, recipient_id)
    # (1395 − 1200 / 2) × 2 + the child's 20 % top-up of 279 = 1869
    assert recipient.monthly_amount == Decimal("1869.00")
    assert recipient.monthly_income == Decimal("1200.00")
    assert recipient.next_review_due == date(2026, 10, 2)  # stable household: 6 months after the decision
    assert recipient.status == RecipientStatus.ACTIVE
    last = changes[-1]
    assert (last.kind, last.effective_month, last.old_amount, last.new_amount, last.actor) == \
        ("review", "2026-05", Decimal("2269.00"), Decimal("1869.00"), "qu_approver")
    assert last.reason == "工资收入增加"
    done = driver.review()
    assert (done["status"], done["outcome"], done["tasks"]) == ("done", "lower", [])
    # April was decided on the old amount; the new one is paid from May.
    assert paid_in_run(login, "2026-04", recipient_id) == Decimal("2269.00")
    assert paid_in_run(login, "2026-05", recipient_id) == Decimal("1869.00")


def test_the_decision_must_fit_the_recomputation(app, login):
    recipient_id = new_recipient(app)
    driver = ReviewDriver(login, recipient_id)
    advance(login, "P31D")
    driver.survey([{"type": "wage", "amount": 1200}])
    answer = driver.decide("raise", expect=422)
    assert "outcome" in answer["error"]["fields"]
    recipient, changes = recipient_state(app, recipient_id)
    assert recipient.monthly_amount == Decimal("2269.00") and [c.kind for c in changes] == ["approved"]
    # Exit needs income that rose through work; stop and exit need a written reason.
    answer = driver.complete("district_decision", "qu_approver", {"outcome": "exit", "reason": "收入超标"},
                             expect=422)
    assert "outcome" in answer["error"]["fields"]
    answer = driver.complete("district_decision", "qu_approver", {"outcome": "stop"}, expect=422)
    assert "reason" in answer["error"]["fields"]


def test_gradual_exit_pays_six_more_months_then_the_sweep_stops_it(app, login):
    recipient_id = new_recipient(app)
    driver = ReviewDriver(login, recipient_id)
    advance(login, "P31D")  # 2 April 2026
    driver.survey([{"type": "wage", "amount": 3600}], from_work=True)
    driver.decide("exit", "就业后家庭人均收入超过保障标准")
    recipient, changes = recipient_state(app, recipient_id)
    assert recipient.status == RecipientStatus.EXITING
    assert recipient.end_month == "2026-11" and recipient.monthly_amount == Decimal("2269.00")
    assert (changes[-1].kind, changes[-1].new_status, changes[-1].details["exit_months"]) == ("exit", "exiting", 6)
    paid = {}
    # From 2 April to the 2nd of each month up to November; each month's run is created in that month.
    for month, days in (("2026-05", 30), ("2026-06", 31), ("2026-07", 30), ("2026-08", 31), ("2026-09", 31),
                        ("2026-10", 30), ("2026-11", 31)):
        advance(login, f"P{days}D")
        paid[month] = paid_in_run(login, month, recipient_id)
    assert paid == {month: Decimal("2269.00") for month in ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
                                                           "2026-10")} | {"2026-11": None}
    recipient, changes = recipient_state(app, recipient_id)
    assert recipient.status == RecipientStatus.STOPPED
    assert (changes[-1].kind, changes[-1].effective_month, changes[-1].actor) == ("exit_end", "2026-11", "system")


def test_a_stop_takes_effect_after_the_written_notice(app, login):
    recipient_id = new_recipient(app)
    driver = ReviewDriver(login, recipient_id)
    advance(login, "P31D")
    driver.survey([{"type": "wage", "amount": 3600}, {"type": "pension", "amount": 500}])
    driver.decide("stop", "家庭人均收入超过保障标准")
    recipient, _changes = recipient_state(app, recipient_id)
    assert recipient.status == RecipientStatus.ACTIVE  # not before the household has been told
    assert driver.review()["tasks"] == ["书面告知"]
    driver.complete("stop_notice", "jd_heping", {"delivered_on": "2026-04-03", "note": "本人签收"})
    recipient, changes = recipient_state(app, recipient_id)
    assert (recipient.status, recipient.end_month, recipient.next_review_due) == (RecipientStatus.STOPPED,
                                                                                 "2026-05", None)
    assert recipient.stop_reason == "家庭人均收入超过保障标准"
    assert (changes[-1].kind, changes[-1].old_status, changes[-1].new_status) == ("stop", "active", "stopped")
    assert paid_in_run(login, "2026-04", recipient_id) == Decimal("2269.00")
    assert paid_in_run(login, "2026-05", recipient_id) is None


def test_the_recomputed_amount_is_the_register_formula(app, login):
    """The review's figure and the register's own calculation agree (same standard, household, income)."""
    recipient_id = new_recipient(app)
    driver = ReviewDriver(login, recipient_id)
    advance(login, "P31D")
    driver.survey([{"type": "wage", "amount": 900}, {"type": "illness_disability", "amount": 300}])
    driver.decide("raise", "医疗支出扣减后收入下降")
    recipient, _changes = recipient_state(app, recipient_id)
    with app.app_context():
        standard = standard_in_force(db.session, "示范区", "dibao", "urban", "2026-04")
        expected, _ = household_amount(recipient.household, Decimal("600"), standard, date(2026, 4, 2))
    assert recipient.monthly_amount == expected == Decimal("2469.00")
