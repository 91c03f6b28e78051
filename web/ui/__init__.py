"""Server-rendered pages (Jinja, Chinese). Each page area is its own blueprint; this module registers them."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import pages

    app.register_blueprint(pages.bp)
