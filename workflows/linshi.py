"""临时救助 (temporary aid): the approval tiers of a district and their arithmetic.

Who may approve how much is a multiple of the monthly 低保 standard, set per district (DOMAIN.md "Other programs"):
the street office up to its delegated limit (default 3 ×), the district civil-affairs bureau above it, and above a
second limit (default 10 ×) only a joint review case by case (一事一议). The 支出型 income test compares the
household's per-capita monthly income with last year's local average, which the district sets here too.

All money is Decimal with 2 places; task data carries it as JSON numbers (workflows.linshi_steps converts).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.errors import Forbidden, InvalidInput
from engine.models import Base, IdType, UtcDateTime

from . import messages
from .models import User
from .money import money
from .money import multiple_text as _multiple
from .program_details import register_details

CENT = Decimal("0.01")
MAX_DIGITS = 12  # whole-yuan digits any amount or multiple here may have
DEFAULT_STREET_MULTIPLE = Decimal("3")
DEFAULT_JOINT_MULTIPLE = Decimal("10")

TIERS = ("street", "district", "joint")
TIER_NAMES = {"street": "街道审批", "district": "区民政局审批", "joint": "一事一议"}
# Who may change a district's limits (admins any district, approvers their own).
LIMIT_EDITORS = ("district_approver", "admin")


class LinshiLimits(Base):
    """A district's 临时救助 tiers; a district without a row uses the defaults (3 × and 10 ×, no income average)."""

    __tablename__ = "linshi_limits"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    district: Mapped[str] = mapped_column(String(50), unique=True)
    street_multiple: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=DEFAULT_STREET_MULTIPLE)
    joint_multiple: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=DEFAULT_JOINT_MULTIPLE)
    # Last year's local per-capita monthly income (yuan): the line of the 支出型 income test.
    last_year_average_income: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Tiers:
    standard: Decimal  # the monthly 低保 standard the multiples apply to
    street_multiple: Decimal = DEFAULT_STREET_MULTIPLE
    joint_multiple: Decimal = DEFAULT_JOINT_MULTIPLE
    average_income: Decimal | None = None

    @property
    def street_limit(self) -> Decimal:
        return (self.standard * self.street_multiple).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def joint_limit(self) -> Decimal:
        return (self.standard * self.joint_multiple).quantize(CENT, rounding=ROUND_HALF_UP)

    def tier_of(self, amount) -> str:
        """street up to and including the street limit, district up to and including the joint limit, else joint."""
        value = money(amount)
        if value <= self.street_limit:
            return "street"
        if value <= self.joint_limit:
            return "district"
        return "joint"

    def over_street_limit(self, amount) -> str | None:
        """The refusal when a street grants more than it may, naming the tier; None when within it."""
        if money(amount) <= self.street_limit:
            return None
        return (f"超出街道审批限额（{_multiple(self.street_multiple)} 倍低保标准 = {self.street_limit} 元），"
                "须报区民政局审批")

    def over_district_limit(self, amount) -> str | None:
        if money(amount) <= self.joint_limit:
            return None
        return (f"超出区民政局审批限额（{_multiple(self.joint_multiple)} 倍低保标准 = {self.joint_limit} 元），"
                "须提请一事一议")

    def as_data(self) -> dict:
        """JSON-ready for task data (numbers in yuan)."""
        return {
            "standard": float(self.standard),
            "street_multiple": float(self.street_multiple),
            "joint_multiple": float(self.joint_multiple),
            "street_limit": float(self.street_limit),
            "joint_limit": float(self.joint_limit),
            "average_income": None if self.average_income is None else float(self.average_income),
        }

    @classmethod
    def from_data(cls, data: dict) -> Tiers:
        average = data.get("average_income")
        return cls(standard=money(data["standard"]), street_multiple=Decimal(str(data["street_multiple"])),
                   joint_multiple=Decimal(str(data["joint_multiple"])),
                   average_income=None if average is None else money(average))


@dataclass(frozen=True)
class IncomeTest:
    per_capita: Decimal
    average: Decimal
    passed: bool

    @property
    def reason(self) -> str | None:
        if self.passed:
            return None
        return (f"家庭人均月收入 {self.per_capita} 元，不低于上年度当地居民人均月收入 {self.average} 元，"
                "不符合支出型临时救助条件")

    def as_data(self) -> dict:
        return {"per_capita": float(self.per_capita), "average": float(self.average), "passed": self.passed,
                "reason": self.reason}


def income_test(household_monthly_income, members: int, average: Decimal) -> IncomeTest:
    """支出型: the household's monthly income per member must be below last year's local average."""
    if members < 1:
        raise ValueError("家庭成员人数须至少为 1")
    total = money(household_monthly_income)
    per_capita = (total / members).quantize(CENT, rounding=ROUND_HALF_UP)
    # Compared exactly (total < average × members): a rounded 2999.995 must not count as 3000.00.
    return IncomeTest(per_capita, average, total < average * members)


# -- reading and writing a district's limits --------------------------------------------------------------------

def limits_row(session: Session, district: str) -> LinshiLimits | None:
    return session.query(LinshiLimits).filter_by(district=district).one_or_none()


def dibao_standard(session: Session, district: str, on: date, street: str | None = None,
                   community: str | None = None) -> Decimal | None:
    """The 低保 standard in force on `on` where the case is (its area's, else the urban one)."""
    # Imported here (all three): the register imports the task forms, which import this module.
    from .register.enrolment import area_of
    from .register.months import month_of  # (imported here: see above)
    from .register.standards import standard_in_force  # (imported here: see above)

    area = area_of(session, district, street, community) if street and community else "urban"
    row = standard_in_force(session, district, "dibao", area, month_of(on))
    return None if row is None else Decimal(row.amount)


def tiers_for(session: Session, district: str, standard: Decimal) -> Tiers:
    row = limits_row(session, district)
    if row is None:
        return Tiers(standard=money(standard))
    return Tiers(standard=money(standard), street_multiple=Decimal(row.street_multiple),
                 joint_multiple=Decimal(row.joint_multiple),
                 average_income=None if row.last_year_average_income is None else money(row.last_year_average_income))


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(money(value))


def limits_dict(session: Session, district: str, on: date) -> dict:
    """What GET /linshi/limits answers: the multiples, the limits in yuan today and who set them last."""
    row = limits_row(session, district)
    standard = dibao_standard(session, district, on)
    tiers = tiers_for(session, district, standard) if standard is not None else None
    return {
        "district": district,
        "configured": row is not None,
        "street_multiple": _multiple(row.street_multiple if row else DEFAULT_STREET_MULTIPLE),
        "joint_multiple": _multiple(row.joint_multiple if row else DEFAULT_JOINT_MULTIPLE),
        "last_year_average_income": _money_text(row.last_year_average_income if row else None),
        "dibao_standard": _money_text(standard),
        "street_limit": _money_text(tiers.street_limit) if tiers else None,
        "joint_limit": _money_text(tiers.joint_limit) if tiers else None,
        "updated_by": row.updated_by if row else None,
        "updated_at": row.updated_at.isoformat() if row and row.updated_at else None,
    }


class Yuan(fields.Decimal):
    """A decimal with at most 2 places: 3.005 is refused, not rounded away. `as_float` cleans it to a JSON number
    for task data (2 places survive the float round trip through str())."""

    def __init__(self, *, as_float: bool = False, **kwargs):
        super().__init__(allow_nan=False, **kwargs)
        self.as_float = as_float

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise ValidationError("最多两位小数")
        if number.adjusted() >= MAX_DIGITS:  # 1e400 would overflow quantize(); no amount is near this
            raise ValidationError(messages.TOO_LARGE)
        number = number.quantize(CENT)
        return float(number) if self.as_float else number


def _positive(maximum: int) -> validate.Range:
    return validate.Range(min=0, max=maximum, min_inclusive=False, error=f"须大于 0 且不超过 {maximum}")


class LimitsSchema(Schema):
    """PUT /linshi/limits: a field left out keeps its current value (or the default)."""

    district = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                             metadata={"description": "admins only; an approver always sets its own district"})
    street_multiple = Yuan(load_default=None, validate=_positive(100),
                           metadata={"description": "street limit as a multiple of the 低保 standard (default 3)"})
    joint_multiple = Yuan(load_default=None, validate=_positive(1000),
                          metadata={"description": "above this multiple: 一事一议 (default 10)"})
    last_year_average_income = Yuan(load_default=None, validate=_positive(1_000_000),
                                    metadata={"description": "last year's per-capita monthly income, yuan"})


class ExpenseItemSchema(Schema):
    item = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "e.g. 住院医疗费"})
    amount = Yuan(required=True, validate=_positive(100_000_000))


class LinshiDetails(Schema):
    """`details` of a 临时救助 application (POST /cases)."""

    kind = fields.String(required=True, validate=validate.OneOf(["emergency", "expense"],
                                                                error="应为 emergency（急难型）或 expense（支出型）"))
    requested_amount = Yuan(required=True, validate=_positive(100_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    incident_date = fields.Date(load_default=None)
    expense_items = fields.List(fields.Nested(ExpenseItemSchema), load_default=None,
                                validate=validate.Length(max=50))


register_details("linshi", LinshiDetails)


def save_limits(session: Session, user: User, payload, now: datetime) -> LinshiLimits:
    """Set a district's tiers: a district approver its own district, an admin any district it names."""
    if user.role not in LIMIT_EDITORS:
        raise Forbidden("只有区民政局审批人可以设置临时救助审批限额")
    if not isinstance(payload, dict):
        raise InvalidInput("提交的数据有误", {"body": ["须为对象"]})
    try:
        data = LimitsSchema().load(payload)
    except ValidationError as exc:
        raise InvalidInput("临时救助限额填写有误", exc.normalized_messages()) from exc
    if user.role == "admin":
        district = data.get("district") or user.district
        if not district:
            raise InvalidInput("请指定区", {"district": ["管理员须指定要设置的区"]})
    else:
        if data.get("district") not in (None, user.district):
            raise Forbidden("只能设置本区的临时救助审批限额")
        district = user.district
    row = limits_row(session, district)
    street = data.get("street_multiple") or (row.street_multiple if row else DEFAULT_STREET_MULTIPLE)
    joint = data.get("joint_multiple") or (row.joint_multiple if row else DEFAULT_JOINT_MULTIPLE)
    if Decimal(joint) <= Decimal(street):
        raise InvalidInput("临时救助限额填写有误", {"joint_multiple": [
            f"一事一议倍数须大于街道审批倍数（{_multiple(Decimal(street))}）"]})
    if row is None:
        row = LinshiLimits(district=district)
        session.add(row)
    row.street_multiple = Decimal(street)
    row.joint_multiple = Decimal(joint)
    if data.get("last_year_average_income") is not None:
        row.last_year_average_income = data["last_year_average_income"]
    row.updated_by = user.username
    row.updated_at = now
    session.commit()
    return row
