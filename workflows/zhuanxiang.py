"""专项救助 and 人道慈善救助: the application details of the ten specialised projects and charity (one schema per
program, `details` of POST /cases) and the script function that enters an approved aid in the aid register.

The processes are in bpmn/zhuanxiang.bpmn: each program's own process (id = program key) routes the work of its
responsible units (街道 verifies the household, 区卫生局 confirms a diagnosis …) and then calls the shared
`zhuanxiang_decision`, where the lead agency (牵头单位) assesses and decides with written reasons.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine import clock
from engine.clock import SHANGHAI
from engine.runtime import current_step

from . import ages
from .aid.records import record_aid
from .idcard import birth_date_of, validate_id_number
from .program_details import register_details
from .programs import PROGRAMS
from .step_case import own_case

# The programs this module serves, in DOMAIN.md's order.
ZHUANXIANG_PROGRAMS = ("zhukun", "zhuyi", "zhulao", "zhuxue", "zhucan", "jiuye", "zhufang", "jiuzai", "falv", "xinli",
                       "cishan")
MAX_AMOUNT = Decimal("10000000")
MAX_TEXT = 2000  # as the task forms' free text (workflows.forms.toolkit)
CENT = Decimal("0.01")


# -- fields -------------------------------------------------------------------------------------------------------

class _Stripped(fields.String):
    """Text with surrounding whitespace removed, so a blank answer counts as empty."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def _text(*, required: bool = True, limit: int = MAX_TEXT):
    length = validate.Length(min=1 if required else 0, max=limit,
                             error=f"不能为空，且不能超过 {limit} 字" if required else f"不能超过 {limit} 字")
    if required:
        return _Stripped(required=True, validate=length)
    return _Stripped(load_default=None, allow_none=True, validate=length)


def _money(*, required: bool = True, positive: bool = False, default=None):
    bound = validate.Range(min=0, min_inclusive=not positive, max=MAX_AMOUNT,
                           error="金额须大于 0 元" if positive else "金额不能为负数，且不能超过一千万元")
    kwargs = {"required": True} if required else {"load_default": default, "allow_none": default is None}
    return fields.Decimal(places=2, as_string=False, validate=bound,
                          error_messages={"invalid": "应为金额（元，最多两位小数）", "special": "应为金额（元）"},
                          **kwargs)


def _choice(*values: str, required: bool = True):
    check = validate.OneOf(values, error="应为以下之一：" + "、".join(values))
    if required:
        return fields.String(required=True, validate=check)
    return fields.String(load_default=None, allow_none=True, validate=check)


def _id_number(value: str) -> None:
    try:
        validate_id_number(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def _id_field():
    return fields.String(required=True, validate=_id_number)


def _today() -> date:
    return clock.now().astimezone(SHANGHAI).date()


def _not_future(value: date) -> None:
    if value > _today():
        raise ValidationError("日期不能晚于今天")


def age_on(id_number: str, day: date) -> int:
    """Whole years on `day` of the holder of a (valid) ID number."""
    return ages.age_on(birth_date_of(id_number), day) or 0


# -- the details of each program ----------------------------------------------------------------------------------

class ZhukunDetails(Schema):
    """助困: what the hardship is and how much is asked."""
    hardship = _text()
    cause = _choice("疾病", "失业", "意外事故", "子女就学", "其他", required=False)
    requested_amount = _money(positive=True)


class ZhuyiDetails(Schema):
    """助医: the illness and the bill; 先保险后救助 — the self-paid part is the bill less what insurance paid."""
    patient_name = _text(limit=50)
    diagnosis = _text(limit=200)
    hospital = _text(limit=100)
    admitted_on = fields.Date(load_default=None, allow_none=True, validate=_not_future)
    total_cost = _money(positive=True)
    insurance_reimbursed = _money()
    self_paid = _money()

    @validates_schema(skip_on_field_errors=True)
    def _self_paid(self, data, **kwargs):
        total, reimbursed, paid = data["total_cost"], data["insurance_reimbursed"], data["self_paid"]
        if reimbursed > total:
            raise ValidationError("医保报销金额不能超过医疗总费用", "insurance_reimbursed")
        expected = (total - reimbursed).quantize(CENT)
        if paid.quantize(CENT) != expected:
            raise ValidationError(f"自付金额应等于总费用减去医保报销，即 {expected} 元", "self_paid")


class ZhulaoDetails(Schema):
    """助老: the elderly member (60 or older) and the need."""
    elder_name = _text(limit=50)
    elder_id_number = _id_field()
    need = _choice("居家照料", "助餐", "助浴", "适老化改造", "紧急呼叫", "生活补贴")
    living_alone = fields.Boolean(load_default=False)
    description = _text(required=False)

    @validates_schema(skip_on_field_errors=True)
    def _age(self, data, **kwargs):
        if age_on(data["elder_id_number"], _today()) < 60:
            raise ValidationError("助老对象须年满 60 周岁", "elder_id_number")


class ZhuxueDetails(Schema):
    """助学: the student, the school and what the schooling costs a year."""
    student_name = _text(limit=50)
    student_id_number = _id_field()
    school = _text(limit=100)
    stage = _choice("学前", "小学", "初中", "高中", "中职", "高校")
    grade = _text(required=False, limit=20)
    tuition = _money()
    fees = _money(required=False, default=Decimal("0"))

    @validates_schema(skip_on_field_errors=True)
    def _costs(self, data, **kwargs):
        if data["tuition"] + (data.get("fees") or 0) <= 0:
            raise ValidationError("学费与杂费合计须大于 0 元", "tuition")


class ZhucanDetails(Schema):
    """助残: the disabled member, the grade and category of the disability, the aid item asked for."""
    disabled_name = _text(limit=50)
    certificate_number = _text(required=False, limit=30)
    disability_grade = fields.Integer(required=True, strict=True,
                                      validate=validate.Range(min=1, max=4, error="残疾等级应为 1 至 4 级"))
    disability_category = _choice("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
    aid_item = _choice("辅具", "康复", "护理补贴", "生活补贴", "托养")
    requested_amount = _money(required=False)


class JiuyeDetails(Schema):
    """就业: the member seeking work, what they can do and what help they want."""
    member_name = _text(limit=50)
    member_id_number = _id_field()
    skills = _text(required=False, limit=500)
    education = _choice("小学及以下", "初中", "高中/中职", "大专", "本科及以上", required=False)
    wish = _choice("推荐就业", "职业培训", "公益性岗位", "创业扶持")
    unemployed_since = fields.Date(load_default=None, allow_none=True, validate=_not_future)


class ZhufangDetails(Schema):
    """住房: where the household lives, the floor area per person and the help asked for."""
    housing_situation = _choice("无房", "租住私房", "租住公房", "危旧房", "自有住房困难")
    area_per_person = fields.Decimal(required=True, places=2, as_string=False,
                                     validate=validate.Range(min=0, max=1000, error="人均住房面积应在 0 至 1000 平方米之间"),
                                     error_messages={"invalid": "应为面积（平方米）"})
    requested_type = _choice("廉租", "公租", "修缮")
    description = _text(required=False)


class JiuzaiDetails(Schema):
    """救灾: the disaster, when it struck and what was lost."""
    disaster_type = _choice("火灾", "水灾", "风灾", "地震", "冰雪", "其他")
    occurred_on = fields.Date(required=True, validate=_not_future)
    loss_description = _text()
    estimated_loss = _money()
    casualties = fields.Integer(load_default=0, strict=True,
                                validate=validate.Range(min=0, max=1000, error="伤亡人数不能为负数"))


class FalvDetails(Schema):
    """法律援助: the matter, the other side and how far it has gone."""
    matter = _choice("劳动争议", "赡养抚养", "婚姻家庭", "人身损害", "房屋纠纷", "其他")
    opposing_party = _text(limit=100)
    stage = _choice("咨询", "调解", "仲裁", "一审", "二审", "执行")
    description = _text()


class XinliDetails(Schema):
    """心理慰藉: the situation and how the person wants to be reached."""
    situation = _text()
    preferred_contact = _choice("电话", "上门", "到中心", "线上")
    contact_time = _text(required=False, limit=100)
    urgent = fields.Boolean(load_default=False)


class CishanDetails(Schema):
    """人道慈善救助: the need and the amount asked of the charity."""
    need = _text()
    requested_amount = _money(positive=True)


DETAIL_SCHEMAS: dict[str, type[Schema]] = {
    "zhukun": ZhukunDetails, "zhuyi": ZhuyiDetails, "zhulao": ZhulaoDetails, "zhuxue": ZhuxueDetails,
    "zhucan": ZhucanDetails, "jiuye": JiuyeDetails, "zhufang": ZhufangDetails, "jiuzai": JiuzaiDetails,
    "falv": FalvDetails, "xinli": XinliDetails, "cishan": CishanDetails,
}
# What the staff application page shows for each field (workflows.program_details.describe reads `label`).
LABELS = {
    "hardship": "困难情况", "cause": "致困原因", "requested_amount": "申请金额（元）", "patient_name": "患者姓名",
    "diagnosis": "诊断", "hospital": "就诊医院", "admitted_on": "入院日期", "total_cost": "医疗总费用（元）",
    "insurance_reimbursed": "医保报销（元）", "self_paid": "个人自付（元）", "elder_name": "老人姓名",
    "elder_id_number": "老人身份证号", "need": "需求", "living_alone": "独居", "description": "情况说明",
    "student_name": "学生姓名", "student_id_number": "学生身份证号", "school": "学校", "stage": "学段",
    "grade": "年级", "tuition": "学费（元/年）", "fees": "杂费、住宿费（元/年）", "disabled_name": "残疾人姓名",
    "certificate_number": "残疾人证号", "disability_grade": "残疾等级", "disability_category": "残疾类别",
    "aid_item": "申请救助项目", "member_name": "求职成员姓名", "member_id_number": "求职成员身份证号",
    "skills": "技能特长", "education": "文化程度", "wish": "就业意愿", "unemployed_since": "失业日期",
    "housing_situation": "住房状况", "area_per_person": "人均住房面积（平方米）", "requested_type": "申请类型",
    "disaster_type": "灾害类型", "occurred_on": "受灾日期", "loss_description": "损失情况",
    "estimated_loss": "估计损失（元）", "casualties": "伤亡人数", "matter": "法律事项", "opposing_party": "对方当事人",
    "situation": "目前状况", "preferred_contact": "希望的联系方式", "contact_time": "方便联系的时间",
    "urgent": "情况紧急",
}
for _key, _schema in DETAIL_SCHEMAS.items():
    for _name, _field in _schema._declared_fields.items():
        _field.metadata = {**_field.metadata, "label": LABELS[_name]}
    register_details(_key, _schema)


# -- the ceiling of an amount, from the application and the units' confirmations ----------------------------------

def _yuan(value) -> Decimal:
    # Task data holds money as JSON numbers with 2 places: str() first, so no float tail leaks into the sum.
    return Decimal(str(value)).quantize(Decimal("0.01"))


def amount_ceiling(task_data: dict) -> tuple[Decimal, str] | None:
    """The most a program may grant, in yuan, and what it is (助医: the self-paid part, after insurance and as
    confirmed by the units; 助学: tuition and fees); None where the lead agency sets the amount freely."""
    program, details = task_data.get("program"), task_data.get("details") or {}
    if program == "zhuyi":
        total = task_data.get("confirmed_total_cost")
        reimbursed = task_data.get("confirmed_reimbursed")
        total = details.get("total_cost") if total is None else total
        reimbursed = details.get("insurance_reimbursed") if reimbursed is None else reimbursed
        if total is None or reimbursed is None:
            return None
        return max(Decimal("0.00"), _yuan(total) - _yuan(reimbursed)), "医保报销后的自付费用"
    if program == "zhuxue" and details.get("tuition") is not None:
        return _yuan(details["tuition"]) + _yuan(details.get("fees") or 0), "学费与杂费合计"
    return None


# -- the script function ------------------------------------------------------------------------------------------

def record_program_aid(case_id, amount=None, description=None) -> int:
    """Enter the approved aid of a specialised-aid case in the aid register: granted by the program's lead agency,
    a one-off from the step's day, kind = the program; returns the record's id (the same on a repeat)."""
    ctx = current_step()
    case = own_case(case_id)
    program = PROGRAMS[case.program]
    text = str(description).strip()[:500] if description else None
    record = record_aid(
        ctx.session, case, program=program.key, agency=program.lead_agency, now=ctx.now,
        period_from=ctx.now.astimezone(SHANGHAI).date(),
        amount=None if amount is None else Decimal(str(amount)), monthly=False, kind=program.key,
        description=text or program.name, granted_by=ctx.actor,
    )
    return record.id


ZHUANXIANG_FUNCTIONS = {"record_program_aid": record_program_aid}
