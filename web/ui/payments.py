"""(filled in: finance's 发放 page)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("payments_ui", __name__, url_prefix="/payments")
