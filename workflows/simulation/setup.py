"""The scratch database's district, staff accounts and standards, and the run's working-day calendar.

The demo district is written by `workflows.demo.seed` (its users are the demo table of DESIGN.md); any other
district of a scenario gets its streets and communities here. Then every place gets one account per role that works
tasks there (`sim_…`, no usable password) where the demo table has none — e.g. 和平东社区 has no community worker in
the demo — because a simulated person needs an account to complete a task through the task service. An account
stands for the whole staff of its role and place: capacity is a number in the scenario, not a count of accounts.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import BusinessCalendar
from engine.clock import SHANGHAI

from .. import demo, rulesets
from ..cases import local_standard
from ..models import Jurisdiction, LocalStandard, User
from ..roles import AGENCY_OF_ROLE
from ..subsidy import DEFAULT_TOPUP_RATES
from .scenario import DISTRICT_ROLES, Scenario

# Accounts made here cannot log in: the hash matches no password.
NO_LOGIN = "!simulation"


def calendar_for(scenario: Scenario) -> BusinessCalendar:
    """The app's calendar (the official table it ships) plus the scenario's imported years and single days."""
    overrides: dict[date, bool] = {}
    for arrangement in scenario.years:
        overrides.update(arrangement.days)
    overrides.update({day: False for day in scenario.holidays})
    overrides.update({day: True for day in scenario.workdays})
    return BusinessCalendar(overrides, covered_years=[a.year for a in scenario.years])


def _place(session: Session, name: str, level: str, parent: Jurisdiction | None) -> Jurisdiction:
    parent_id = parent.id if parent else None
    row = session.scalars(select(Jurisdiction).where(
        Jurisdiction.name == name,
        Jurisdiction.parent_id.is_(None) if parent_id is None else Jurisdiction.parent_id == parent_id)).first()
    if row is None:
        row = Jurisdiction(name=name, level=level, parent_id=parent_id)
        session.add(row)
        session.flush()
    return row


class Staff:
    """The account that works a role's tasks at a place: (role, street, community) → User."""

    def __init__(self, users: dict[tuple[str, str | None, str | None], User]):
        self.users = users

    def for_task(self, role: str, street: str | None, community: str | None) -> User | None:
        for key in ((role, street, community), (role, street, None), (role, None, None)):
            if key in self.users:
                return self.users[key]
        return None


def prepare(session: Session, scenario: Scenario, now: datetime) -> Staff:
    """Write the district, its standards and staff accounts (idempotent) and commit; returns the staff."""
    if scenario.district == demo.DISTRICT:
        demo.seed(session)
    district = _place(session, scenario.district, "district", None)
    for street_name, communities in scenario.streets.items():
        street = _place(session, street_name, "street", district)
        for community in communities:
            _place(session, community, "community", street)
    today = now.astimezone(SHANGHAI).date()
    for arrivals in scenario.arrivals:
        if local_standard(session, scenario.district, arrivals.program, today) is None:
            session.add(LocalStandard(district=scenario.district, program=arrivals.program,
                                      amount=demo.DIBAO_STANDARD, effective_from=date(today.year, today.month, 1),
                                      topup_rates=dict(DEFAULT_TOPUP_RATES), created_by="simulation"))
        if arrivals.process_key:
            rulesets.choose(session, scenario.district, arrivals.program, arrivals.process_key,
                            actor="simulation", now=now)
    users: dict[tuple[str, str | None, str | None], User] = {}
    for user in session.scalars(select(User).where(User.district == scenario.district, User.active.is_(True))
                                .order_by(User.id)):
        users.setdefault((user.role, user.street, user.community), user)
    places: list[tuple[str, str | None, str | None]] = [(role, None, None) for role in sorted(DISTRICT_ROLES)]
    for street_name, communities in scenario.streets.items():
        places += [("street_clerk", street_name, None), ("street_reviewer", street_name, None)]
        places += [("community_worker", street_name, community) for community in communities]
    for role, street_name, community in places:
        if (role, street_name, community) in users:
            continue
        number = sum(1 for key in users if key[0] == role) + 1
        user = User(username=f"sim_{role}_{number}", display_name=f"推演 {community or street_name or ''}{role}",
                    password_hash=NO_LOGIN, role=role, agency=AGENCY_OF_ROLE.get(role, "区民政局"),
                    district=scenario.district, street=street_name, community=community, active=True,
                    failed_logins=0)
        session.add(user)
        users[(role, street_name, community)] = user
    session.commit()
    return Staff(users)
