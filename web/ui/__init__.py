"""Server-rendered pages (Jinja, Chinese). Each page area is its own blueprint; this module registers them."""
from __future__ import annotations

from flask import Flask

from . import apply, cases, dashboard, inbox, incidents, modeler, notice, pages, payments, recipients, tasks


def register(app: Flask) -> None:
    # Order matters: the tasks blueprint's upload limit must run before CSRFProtect reads the form.
    for module in (pages, modeler, inbox, tasks, cases, notice, apply, dashboard, incidents, recipients, payments):
        app.register_blueprint(module.bp)
