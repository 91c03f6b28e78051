"""Server-rendered pages (Jinja, Chinese). Each page area is its own blueprint; this module registers them."""
from __future__ import annotations

from flask import Flask

from . import aid_reports as aid_report_pages  # 救助信息共享: duplicate / missed aid, quarterly report
from . import apply, cases, dashboard, inbox, incidents, modeler, notice, pages, payments, recipients, tasks
from . import complaints as complaint_pages  # 投诉举报: the public complaint page
from . import form_designer as form_designer_pages  # 表单设计: designed (form-js) task forms
from . import substitute as substitute_pages  # 我的代理人 (代理)


def register(app: Flask) -> None:
    # Order matters: the tasks blueprint's upload limit must run before CSRFProtect reads the form.
    for module in (pages, modeler, inbox, tasks, cases, notice, apply, dashboard, incidents, recipients, payments):
        app.register_blueprint(module.bp)
    app.register_blueprint(complaint_pages.bp)
    app.register_blueprint(aid_report_pages.bp)
    app.register_blueprint(substitute_pages.bp)
    app.register_blueprint(form_designer_pages.bp)
