"""The member agencies of the joint conference (联席会): the lead agencies and responsible units of DOMAIN.md's
table. An agency's staff hold `agency_officer` (办理) or `agency_lead` (审核) for it; a user task names its agency
with the diagram property `agency` (a name from here, or `${variable}` read from the case data, e.g.
`${lead_agency}` in the shared specialised-aid steps)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agency:
    name: str
    short: str  # the demo user name stem (DESIGN.md: jiaowei, canlian …)


AGENCIES: dict[str, Agency] = {a.name: a for a in (
    Agency("区民政局", "mz_zhuanxiang"),
    Agency("区教委", "jiaowei"),
    Agency("区残联", "canlian"),
    Agency("区人力社保局", "renshe"),
    Agency("区房管局", "fangguan"),
    Agency("区司法局", "sifa"),
    Agency("区卫生局", "weisheng"),
    Agency("区慈善协会", "cishan"),
    # Responsible units that act in some projects; they have no demo users.
    Agency("区财政局", "caizheng"),
    Agency("区人口计生委", "jisheng"),
    Agency("区民宗侨办", "minzong"),
    Agency("区总工会", "zonggonghui"),
    Agency("团区委", "tuanquwei"),
    Agency("区妇联", "fulian"),
    Agency("区红十字会", "hongshizihui"),
    Agency("区房地中心", "fangdi"),
)}

# Agencies with demo users (DESIGN.md Contract v2): each `<short>` is agency_officer, `<short>_lead` agency_lead.
DEMO_AGENCIES = ("区民政局", "区教委", "区残联", "区人力社保局", "区房管局", "区司法局", "区卫生局", "区慈善协会")

