"""The district spot check: never below 30% visited at any point of a month, forced visits for flagged cases."""
from sqlalchemy import select

from engine.models import AuditEntry
from tests.scenario import Dibao, advance


def test_spot_check__fifty_cases_never_below_thirty_percent(app, login):
    cases = []
    for n in range(50):
        street = "和平街道" if n % 2 == 0 else "安定街道"
        case = Dibao(login, street=street, members=1 + n % 3, income=300.0 + 10 * n)
        case.through_street(income=300.0 + 10 * n, relatives=(n % 17 == 5))
        cases.append(case)
    advance(login, "P8D")  # every notice ends; selections happen one after another in the timer sweep
    from web.extensions import db

    with app.app_context():
        selections = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "spot_check_selected").order_by(AuditEntry.id)
        ).all()
        assert len(selections) == 50
        visited = 0
        for decided, entry in enumerate(selections, 1):
            visited += entry.detail["visit"]
            assert visited / decided >= 0.3, f"share fell to {visited}/{decided}"
            if entry.detail["mandatory"]:
                assert entry.detail["visit"] is True
    # Each case's flag agrees with the selection, and the visited ones wait at the district inspector.
    inspector = login("qu_inspector")
    open_checks = {t["case_id"] for t in inspector.get("tasks?view=all&limit=500").get_json()["items"]
                   if t["element_id"] == "spot_check"}
    for case in cases:
        body = case.case()
        assert body["spot_checked"] is (case.id in open_checks)
        if body["relatives_filed"]:
            assert body["spot_checked"] is True


def test_spot_check__case_sent_back_past_notice_is_not_counted_twice(app, login):
    from workflows.models import SpotCheckTally

    case = Dibao(login)
    case.through_street()
    advance(login, "P8D")
    visited = case.spot_check_if_selected()
    approval = case.open_task("approval", "qu_approver")
    approver = login("qu_approver")
    approver.post(f"tasks/{approval['id']}/claim")
    targets = [t["element_id"] for t in approver.get(f"tasks/{approval['id']}").get_json()["return_targets"]]
    assert "street_review" in targets
    response = approver.post(f"tasks/{approval['id']}/return",
                             json={"to": "street_review", "reason": "请街道补充审核意见"})
    assert response.status_code == 200, response.get_json()
    case.street_review()
    advance(login, "P8D")  # a new notice, then the selection again
    again = case.spot_check_if_selected()
    assert again is visited  # the earlier decision stands: not counted, not re-drawn
    from web.extensions import db

    with app.app_context():
        tally = db.session.query(SpotCheckTally).one()
        assert tally.decided == 1
        assert tally.visited == int(visited)
