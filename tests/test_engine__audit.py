"""Audit actions are declared enums: the column refuses an undeclared one, and every declared one has a label."""
import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from engine.audit import AuditAction, known_actions
from engine.models import AuditEntry, Base
from workflows.audit_actions import CaseAction


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_audit__declared_actions_round_trip_as_members(session, app):
    from engine.models import ProcessInstance  # noqa: F401  (the foreign key's table exists in the metadata)

    session.execute(insert(AuditEntry), [{"instance_id": 1, "at": app.extensions["jiuzhu.engine"].now(),
                                          "action": AuditAction.TASK_COMPLETED},
                                         {"instance_id": 1, "at": app.extensions["jiuzhu.engine"].now(),
                                          "action": "household_updated"}])
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == [AuditAction.TASK_COMPLETED, CaseAction.HOUSEHOLD_UPDATED]
    assert actions[0] == "task_completed" and isinstance(actions[1], CaseAction)


def test_audit__an_undeclared_action_is_refused(session, app):
    with pytest.raises(StatementError, match="undeclared audit action 'task_complted'"):
        session.execute(insert(AuditEntry), [{"instance_id": 1, "at": app.extensions["jiuzhu.engine"].now(),
                                              "action": "task_complted"}])


def test_audit__every_action_has_a_chinese_label():
    from web.ui.labels import ACTIONS

    missing = [a.value for a in known_actions() if a.value not in ACTIONS]
    assert not missing, f"no label for {missing}"
