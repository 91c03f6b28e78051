"""特困人员供养 rules (workflows.tekun): the self-care assessment, the eligibility test, the support amounts, and the
district spot check keeping 特困's own 30% share in a district-month, apart from 低保's."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.scenario import Dibao, Tekun, advance
from workflows import tekun

ALONE = ("able",) * 6


@pytest.mark.parametrize("answers, level", [
    (ALONE, "self_care"),
    (("partly", "able", "able", "able", "able", "able"), "partial_care"),  # with help is not alone
    (("unable", "unable", "unable", "able", "able", "able"), "partial_care"),  # 3 not alone: still 部分丧失
    (("unable", "unable", "partly", "partly", "able", "able"), "full_care"),  # 4 not alone: 完全丧失
    (("unable",) * 6, "full_care"),
])
def test_tekun__care_level_follows_the_six_items(answers, level):
    assert tekun.care_level(answers) == level
    assert tekun.care_level(dict(zip(tekun.SELF_CARE_ITEMS, answers, strict=True))) == level


@pytest.mark.parametrize("answers, message", [
    (("able",) * 5, "须有 6 项"),
    (("able", "able", "able", "able", "able", "maybe"), "自主洗澡"),
    ({"eating": "able"}, "自主穿衣"),
])
def test_tekun__care_level_refuses_incomplete_answers(answers, message):
    with pytest.raises(ValueError, match=message):
        tekun.care_level(answers)


@pytest.mark.parametrize("level, basic, care, total", [
    ("self_care", "1813.50", "139.50", "1953.00"),
    ("partial_care", "1813.50", "418.50", "2232.00"),
    ("full_care", "1813.50", "837.00", "2650.50"),
])
def test_tekun__support_is_basic_plus_care_allowance(level, basic, care, total):
    parts = tekun.support_parts(1395, level)
    assert parts == {"basic": Decimal(basic), "care": Decimal(care), "total": Decimal(total)}
    assert all(isinstance(v, Decimal) for v in parts.values())
    assert tekun.support_amount("1395.00", level) == Decimal(total)


def test_tekun__support_rounds_once_per_line_to_fen():
    # 1234.56 × 1.3 = 1604.928 → 1604.93; × 0.3 = 370.368 → 370.37.
    assert tekun.support_parts(Decimal("1234.56"), "partial_care")["total"] == Decimal("1975.30")
    with pytest.raises(ValueError):
        tekun.support_amount(None, "self_care")
    with pytest.raises(ValueError):
        tekun.support_amount(1395, "hotel")


def _household(birth):
    return {"members": [{"name": "刘大爷", "relation": "本人", "birth_date": birth}]}


TODAY = date(2026, 3, 10)


def test_tekun__eligible_elderly_person_alone():
    result = tekun.assess(_household("1950-05-01"), "partial", 300, "none", ALONE, 1395, TODAY)
    assert result["eligible"] is True and result["reasons"] == []
    assert result["age"] == 75 and result["no_work_capacity"] is True  # the elderly count as unable to work
    assert (result["care_level"], result["amount"]) == ("self_care", "1953.00")


@pytest.mark.parametrize("birth, capacity, income, supporter, reason", [
    ("1980-01-01", "full", 300, "none", "具有劳动能力"),
    ("1950-05-01", "none", 1395, "none", "不低于当地低保标准"),
    ("1950-05-01", "none", 0, "able", "具有履行义务能力"),
])
def test_tekun__each_condition_can_fail(birth, capacity, income, supporter, reason):
    result = tekun.assess(_household(birth), capacity, income, supporter, ALONE, 1395, TODAY)
    assert result["eligible"] is False
    assert len(result["reasons"]) == 1 and reason in result["reasons"][0]


def test_tekun__supporters_who_cannot_support_do_not_count_and_children_cannot_work():
    result = tekun.assess(_household("2015-06-01"), "full", 0, "unable", ALONE, 1395, TODAY)
    assert result["eligible"] is True and result["age"] == 10


def test_tekun__street_review_may_not_forward_an_ineligible_case():
    ineligible = {"tekun_check": {"eligible": False, "reasons": ["有法定赡养、抚养、扶养义务人且其具有履行义务能力"]}}
    assert "decision" in tekun.step_problems(ineligible, "approve")
    assert tekun.step_problems(ineligible, "reject") == {}
    assert tekun.step_problems({"tekun_check": {"eligible": True, "reasons": []}}, "approve") == {}


def test_tekun__spot_check_share_never_below_thirty_percent_with_its_own_tally(app, login):
    """20 特困 cases in one district-month after 3 relatives-filed 低保 cases (all visited): the 特困 tally starts
    from zero, so its first case is visited, and its share never drops below 30% after any decision."""
    from engine.models import AuditEntry
    from web.extensions import db
    from workflows.models import SpotCheckTally

    for n in range(3):
        case = Dibao(login, members=1, income=300.0 + n)
        case.through_street(income=300.0 + n, relatives=True)
    cases = []
    for n in range(20):
        case = Tekun(login, street="和平街道" if n % 2 == 0 else "安定街道", name=f"特困{n}")
        case.through_street(relatives=(n == 7), income=100.0 + n)
        cases.append(case)
    advance(login, "P8D")  # every notice ends; the selections happen one after another in the timer sweep

    instances = {case.instance_id for case in cases}
    with app.app_context():
        selections = [e for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "spot_check_selected").order_by(AuditEntry.id))
            if e.instance_id in instances]
        assert len(selections) == 20
        assert selections[0].detail["visit"] is True
        visited = 0
        for decided, entry in enumerate(selections, 1):
            visited += entry.detail["visit"]
            assert 10 * visited >= 3 * decided, f"特困 share fell to {visited}/{decided}"
        tallies = {t.program: (t.decided, t.visited) for t in db.session.scalars(
            select(SpotCheckTally).where(SpotCheckTally.district == "示范区", SpotCheckTally.month == "2026-03"))}
        assert tallies["dibao"] == (3, 3)
        assert tallies["tekun"] == (20, visited)
    relatives = cases[7].case()
    assert relatives["relatives_filed"] is True and relatives["spot_checked"] is True
    inspector = login("qu_inspector")
    open_checks = {t["case_id"] for t in inspector.get("tasks?view=all&limit=500").get_json()["items"]
                   if t["element_id"] == "spot_check"}
    assert len(open_checks & {case.id for case in cases}) == visited
