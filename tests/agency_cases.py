"""Cases with a member agency's task, built on the small diagram tests.bpmn_samples.agency_task — independent of the
specialised-aid processes in bpmn/: the diagram is deployed by the designer through the API, the case row is written
directly and its instance started by the engine with the case's business key, as POST /cases would."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tests.bpmn_samples import agency_task
from tests.scenario import id_number

XML = {"Content-Type": "application/xml"}


def deploy_agency_process(login, key: str = "agency_demo", agency: str = "区教委", due: int = 2,
                          name: str = "成员单位办理") -> None:
    response = login("designer").post("process-definitions", data=agency_task(key, agency, due, name), headers=XML)
    assert response.status_code in (200, 201), response.get_json()


@dataclass
class AgencyCase:
    id: int
    instance_id: int
    task_id: int


def agency_case(app, key: str = "agency_demo", *, program: str = "zhukun", street: str = "和平街道",
                community: str = "和平里社区", name: str = "张三", lead_agency: str | None = None) -> AgencyCase:
    """A case of `program` in `street` whose process `key` opens one agency task; started by the street clerk."""
    from engine.models import HumanTask
    from web.extensions import db
    from workflows.listener import case_business_key
    from workflows.models import Case, CaseStatus
    from workflows.programs import PROGRAMS

    engine = app.extensions["jiuzhu.engine"]
    with app.app_context():
        now = engine.now()
        number = id_number("19800101")
        case = Case(program=program, district="示范区", street=street, community=community, applicant_name=name,
                    applicant_id_number=number, applicant_phone="13800000000",
                    household={"members": [{"name": name, "id_number": number, "relation": "本人"}]},
                    household_size=1, declared_monthly_income=Decimal("500.00"), status=CaseStatus.IN_PROGRESS,
                    stage="已提交", created_by="jd_heping", created_at=now, updated_at=now)
        db.session.add(case)
        db.session.commit()
        instance = engine.start(key, business_key=case_business_key(case.id), started_by="jd_heping",
                                scope={"district": "示范区", "street": street, "community": community},
                                data={"case_id": case.id, "program": program,
                                      "lead_agency": lead_agency or PROGRAMS[program].lead_agency})
        task = db.session.query(HumanTask).filter_by(instance_id=instance.id).one()
        found = AgencyCase(case.id, instance.id, task.id)
        db.session.remove()
    return found
