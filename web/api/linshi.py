"""临时救助 approval tiers of a district: `GET /linshi/limits`, `PUT /linshi/limits` (workflows.linshi)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate

from engine.errors import Forbidden, InvalidInput
from workflows.linshi import LimitsSchema, limits_dict, save_limits

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, json_body, query, today

bp = Blueprint("api_linshi", __name__, url_prefix=API_PREFIX)


class LimitsQuery(Schema):
    district = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                             metadata={"description": "admins only; everyone else reads their own district"})


@bp.get("/linshi/limits")
@doc(params=LimitsQuery, tag="linshi")
def limits():
    """The district's 临时救助 tiers: multiples of the 低保 standard, the limits in yuan today, last year's average
    income for the 支出型 income test."""
    user = current_user()
    district = query(LimitsQuery())["district"]
    if user.role != "admin":
        if district not in (None, user.district):
            raise Forbidden("只能查看本区的临时救助审批限额")
        district = user.district
    if not district:
        raise InvalidInput("请指定区", {"district": ["管理员须指定要查看的区"]})
    return jsonify(limits_dict(db.session, district, today()))


@bp.put("/linshi/limits")
@doc(body=LimitsSchema, tag="linshi", responses={403: "not the district's approver", 422: "field errors"})
def update_limits():
    """Set the district's tiers (district approver of that district, or admin naming the district)."""
    user = current_user()
    row = save_limits(db.session, user, json_body(), engine().now())
    return jsonify(limits_dict(db.session, row.district, today()))
