"""Server-rendered pages (Jinja, Chinese). Each page area is its own blueprint; this module registers them."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import pages

    app.register_blueprint(pages.bp)
    from . import modeler

    app.register_blueprint(modeler.bp)
    from . import apply, cases, inbox, notice, tasks

    for module in (inbox, tasks, cases, notice, apply):
        app.register_blueprint(module.bp)
    from . import dashboard

    app.register_blueprint(dashboard.bp)
