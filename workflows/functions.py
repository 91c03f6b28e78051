"""Functions BPMN scripts may call (whitelisted into the script sandbox).

They run inside an engine step, so they write through the step's session and transaction: a selection made for a
step that later fails is rolled back with it.
"""
from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.runtime import current_step

from . import subsidy
from .models import SpotCheckTally
from .sampling import must_visit

SHANGHAI = ZoneInfo("Asia/Shanghai")
_rng = random.SystemRandom()


def request_economic_check(case_id) -> bool:
    """Ask the district verification centre for the cross-agency check; it answers with a BPMN message."""
    ctx = current_step()
    ctx.emit("economic_check.requested", {
        "case_id": case_id,
        "process_instance_id": ctx.instance.id,
        "district": ctx.instance.district,
        "street": ctx.instance.street,
        "reply_message": "economic_check.completed",
    })
    return True


def spot_check_required(district, mandatory) -> bool:
    """Decide the district home visit, keeping the month's visited share at or above 30% after every decision."""
    ctx = current_step()
    session = ctx.session
    month = ctx.now.astimezone(SHANGHAI).strftime("%Y-%m")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(SpotCheckTally).values(district=district, month=month, decided=0, visited=0)
        .on_conflict_do_nothing(index_elements=["district", "month"])
    )
    # The row lock makes concurrent selections in one district take turns, so none reads a stale tally.
    tally = session.scalars(
        select(SpotCheckTally).where(SpotCheckTally.district == district, SpotCheckTally.month == month)
        .with_for_update().execution_options(populate_existing=True)
    ).one()
    visit = must_visit(tally.decided, tally.visited, bool(mandatory), _rng)
    tally.decided += 1
    tally.visited += int(visit)
    ctx.audit("spot_check_selected", detail={"visit": visit, "mandatory": bool(mandatory), "month": month})
    return visit


def compute_subsidy(household, monthly_income, local_standard, topup_rates=None):
    """The monthly amount, with ages taken on the step's day (scripts cannot read the clock themselves)."""
    today = current_step().now.astimezone(SHANGHAI).date()
    return subsidy.compute_subsidy(household, monthly_income, local_standard, topup_rates, today=today)


FUNCTIONS = {
    "request_economic_check": request_economic_check,
    "spot_check_required": spot_check_required,
    "compute_subsidy": compute_subsidy,
}
