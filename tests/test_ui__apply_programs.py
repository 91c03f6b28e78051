"""The staff application page takes every program: each program's own fields (details) come from its schema, the
chosen program's are sent, and a bad one comes back next to its field; a lead agency's officer applies for its own
programs only."""
from __future__ import annotations

from tests.scenario import id_number
from tests.ui_pages import PageClient, error_for


def _form(program: str, **details) -> dict:
    number = id_number("19800101")
    form = {"program": program, "street": "和平街道", "community": "和平里社区",
            "applicant.name": "王五", "applicant.id_number": number, "household.monthly_income": "1000",
            "members-0-name": "王五", "members-0-id_number": number, "members-0-relation": "本人",
            "members-0-birth_date": "1980-01-01", "members-0-work_capacity": "full"}
    form.update({f"details.{program}.{k}": v for k, v in details.items()})
    return form


def test_ui__apply_page_shows_each_programs_fields_and_sends_the_chosen_ones(app, db):
    clerk = PageClient(app, "jd_heping")
    html = clerk.text("/apply")
    assert 'name="details.linshi.requested_amount"' in html and 'name="details.zhuxue.school"' in html
    bad = clerk.post("/apply", _form("linshi", kind="emergency", requested_amount="abc", reason="突发火灾"))
    assert bad.status_code == 422
    assert error_for(bad.get_data(as_text=True), "details.requested_amount")  # shown next to the amount
    good = clerk.post("/apply", _form("linshi", kind="emergency", requested_amount="2000", reason="突发火灾",
                                      # another program's fields on the same page are not sent
                                      **{"x": "1"}))
    assert good.status_code == 302, good.get_data(as_text=True)[:2000]
    assert "/cases/" in good.headers["Location"]


def test_ui__apply_page_for_an_agency_officer_lists_only_the_programs_it_leads(app, db):
    officer = PageClient(app, "jiaowei")
    html = officer.text("/apply")
    assert 'value="zhuxue"' in html and 'value="dibao"' not in html
