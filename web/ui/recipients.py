"""(filled in: the register page 保障对象台账)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("register_ui", __name__, url_prefix="/recipients")
