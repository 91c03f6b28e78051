"""(filled in by the register/payments work: see docs/api.md)."""
from __future__ import annotations

from flask import Blueprint

from .common import API_PREFIX

bp = Blueprint("api_recipients", __name__, url_prefix=API_PREFIX)
