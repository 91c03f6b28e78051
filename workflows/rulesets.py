"""Which rule set (process) a district runs for a program: 低保 under the 2012 or the 2021 national procedure.

DOMAIN.md: both are real rule sets that districts run — two versions of one program's process, not two programs.
They are deployed under separate process keys (`dibao` and `dibao_2021`) because start-up deploys every file of
`bpmn/` and a deploy only makes a new version when the content differs from the key's latest version: two files
under one key would each make a new version at every start. A district's choice is a row here; without one the
program's default process runs. Running cases keep the process (and version) they started with. The rule sets on
offer are part of the programs catalog (workflows.programs.RULE_SETS).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.models import Base, UtcDateTime

from .programs import PROGRAMS, RULE_SETS, RuleSet

__all__ = ["RULE_SETS", "DistrictRuleSet", "RuleSet", "choices", "choose", "process_key_for"]


class DistrictRuleSet(Base):
    __tablename__ = "district_rule_sets"

    district: Mapped[str] = mapped_column(String(50), primary_key=True)
    program: Mapped[str] = mapped_column(String(50), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(100))


def choices(program: str) -> tuple[RuleSet, ...]:
    return RULE_SETS.get(program, ())


def process_key_for(session: Session, district: str, program: str) -> str | None:
    """The process a new case of `program` in `district` starts: the district's choice, else the default."""
    default = PROGRAMS[program].process_key if program in PROGRAMS else None
    if program not in RULE_SETS:
        return default
    chosen = session.scalars(
        select(DistrictRuleSet.process_key)
        .where(DistrictRuleSet.district == district, DistrictRuleSet.program == program)
    ).first()
    return chosen or default


def choose(session: Session, district: str, program: str, process_key: str, *, actor: str | None,
           now: datetime) -> DistrictRuleSet:
    """Record a district's choice (the caller commits); ValueError names what is wrong."""
    allowed = {r.process_key for r in choices(program)}
    if not allowed:
        raise ValueError(f"项目 {program} 没有可选的规程")
    if process_key not in allowed:
        raise ValueError(f"{process_key} 不是项目 {program} 的规程，可选：{', '.join(sorted(allowed))}")
    row = session.get(DistrictRuleSet, (district, program))
    if row is None:
        row = DistrictRuleSet(district=district, program=program, process_key=process_key, updated_at=now,
                              updated_by=actor)
        session.add(row)
    else:
        row.process_key, row.updated_at, row.updated_by = process_key, now, actor
    return row
