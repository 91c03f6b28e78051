"""The programs catalog (DOMAIN.md): which agency leads each, which process runs it, and the rule sets (processes)
a district may choose between for a program. A district's choice is stored by workflows.rulesets."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Program:
    key: str
    name: str
    lead_agency: str
    process_key: str | None = None
    responsible_units: tuple[str, ...] = field(default=())
    has_local_standard: bool = False


PROGRAMS: dict[str, Program] = {p.key: p for p in (
    Program("dibao", "最低生活保障（低保）", "区民政局", "dibao", ("街道办事处", "社区居委会"), True),
    Program("tekun", "特困人员供养", "区民政局", "tekun", ("街道办事处", "社区居委会"), True),
    Program("linshi", "临时救助", "区民政局", "linshi", ("街道办事处",), True),
    Program("zhukun", "助困", "区民政局", "zhukun",
            ("区人力社保局", "区民宗侨办", "街道", "区总工会", "区妇联", "区残联", "区红十字会", "区慈善协会")),
    Program("zhuyi", "助医", "区民政局", "zhuyi",
            ("区卫生局", "区人力社保局", "街道", "区总工会", "区残联", "区红十字会", "区慈善协会")),
    Program("zhulao", "助老", "区民政局", "zhulao", ("区人口计生委", "街道", "区红十字会", "区慈善协会")),
    Program("zhuxue", "助学", "区教委", "zhuxue",
            ("区民政局", "街道", "区总工会", "团区委", "区妇联", "区残联", "区红十字会", "区慈善协会")),
    Program("zhucan", "助残", "区残联", "zhucan", ("区民政局", "区卫生局", "街道", "区红十字会")),
    Program("jiuye", "就业", "区人力社保局", "jiuye", ("区民政局", "街道", "区残联")),
    Program("zhufang", "住房", "区房管局", "zhufang", ("区民政局", "街道", "区房地中心", "宣房投资管理公司")),
    Program("jiuzai", "救灾", "区民政局", "jiuzai", ("街道", "区红十字会", "区慈善协会")),
    Program("falv", "法律援助", "区司法局", "falv", ("区民政局", "街道")),
    Program("xinli", "心理慰藉", "区民政局", "xinli",
            ("区司法局", "区人口计生委", "区卫生局", "街道", "区总工会", "团区委", "区妇联", "区残联", "区红十字会")),
    Program("cishan", "人道慈善救助", "区慈善协会", "cishan", ("区总工会", "团区委", "区妇联", "街道", "区红十字会")),
)}


@dataclass(frozen=True)
class RuleSet:
    process_key: str
    name: str
    basis: str


# program → the rule sets a district may choose, the program's default first.
RULE_SETS: dict[str, tuple[RuleSet, ...]] = {
    "dibao": (
        RuleSet("dibao", "2012 年审核审批程序", "民发〔2012〕220号；京政发〔2013〕24号"),
        RuleSet("dibao_2021", "2021 年审核确认办法", "民发〔2021〕57号"),
    ),
}


# Processes about a recipient on the register: a review (定期复核) starts only from the review sweep or an event
# (workflows.register.reviews), which takes the recipient's jurisdiction and links the Review row.
REGISTER_PROCESS_KEYS = frozenset({"dibao_review"})
# A complaint (投诉举报) starts only from the complaint intake (workflows.complaints.intake, POST /complaints), which
# finds the household's street and links the Complaint row.
COMPLAINT_PROCESS_KEYS = frozenset({"complaint"})


def case_process_keys() -> frozenset[str]:
    """Process keys that run a program's cases: they start only through POST /cases (open_case), which checks
    the applicant, the jurisdiction and the opener's role."""
    keys = {p.process_key for p in PROGRAMS.values() if p.process_key}
    keys.update(r.process_key for sets in RULE_SETS.values() for r in sets)
    keys.update(REGISTER_PROCESS_KEYS)
    keys.update(COMPLAINT_PROCESS_KEYS)
    return frozenset(keys)
