"""Same-site links of the staff pages: the current path (to come back to) and a safe ``next`` target."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def safe_next(target: str | None) -> str | None:
    """Only same-site paths (no open redirect)."""
    if not target or urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def current_path() -> str:
    return request.full_path.rstrip("?")
