"""workflows.messages: one catalog of Chinese validation messages, the same words wherever a problem is reported —
task forms, API bodies, the login check, inbound webhooks and the pages."""
from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate

from tests.scenario import Dibao, application
from tests.ui_pages import PageClient, error_for
from workflows import messages
from workflows.forms import FormError, validate_form


def test_messages__task_form_and_api_schema_say_required_alike():
    with pytest.raises(FormError) as caught:
        validate_form("review", {})
    assert caught.value.fields["decision"] == [messages.REQUIRED] == ["此项为必填项"]

    class Body(Schema):  # any schema of the app, declared after the catalog is installed
        name = fields.String(required=True)
        kind = fields.String(validate=validate.OneOf(["a", "b"]))
        day = fields.Date()

    assert Body().validate({"kind": "c", "day": "x", "extra": 1}) == {
        "name": [messages.REQUIRED], "kind": ["应为以下之一：a, b"], "day": [messages.NOT_DATE],
        "extra": [messages.UNKNOWN_FIELD]}


def test_messages__english_defaults_translate_to_the_catalog():
    assert messages.translate("Missing data for required field.") == messages.REQUIRED
    assert messages.translate("Not a valid date.") == messages.NOT_DATE
    assert messages.translate("Field may not be null.") == messages.EMPTY
    assert messages.translate("Must be one of: a, b.") == "应为以下之一：a, b"
    assert messages.translate("Length must be between 2 and 5.") == "长度须在 2 到 5 之间"
    assert messages.translate("Must be greater than or equal to 0 and less than or equal to 9.") == \
        "须大于或等于 0 且小于或等于 9"
    assert messages.translate("此项为必填项") == "此项为必填项"


def test_messages__login_api_task_api_and_case_api_agree(client, login):
    missing = client.post("/api/v1/auth/token", json={"username": "admin"})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"password": [messages.REQUIRED]}

    case = Dibao(login)
    task = case.open_task("accept", case.staff["clerk"])
    clerk = login(case.staff["clerk"])
    clerk.post(f"tasks/{task['id']}/claim")
    refused = clerk.post(f"tasks/{task['id']}/complete", json={"data": {}})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"]["decision"] == [messages.REQUIRED]

    body = application()
    del body["applicant"]["name"]
    opened = login(case.staff["community"]).post("cases", json=body)
    assert opened.status_code == 422
    assert opened.get_json()["error"]["fields"]["applicant"]["name"] == [messages.REQUIRED]


def test_messages__the_application_page_says_it_the_same_way(app):
    worker = PageClient(app, "sq_heping")
    response = worker.post("/apply", {"program": "dibao", "street": "和平街道", "community": "和平里社区",
                                      "applicant.id_number": "110105197001010011",
                                      "household.monthly_income": "800",
                                      "members-0-name": "张三", "members-0-relation": "本人",
                                      "members-0-work_capacity": "full"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_for(html, "members-0-id_number") == [messages.REQUIRED]  # the member row has no ID number
