"""The migrations build exactly the tables the models declare (on SQLite and on PostgreSQL)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.models import Base


def _differences(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    ignored_tables = {"alembic_version"}
    problems = []
    for diff in compare_metadata(context, Base.metadata):
        # A list of changes for one column arrives as a nested list; anything else is (kind, object, ...).
        item = diff[0] if isinstance(diff, list) else diff
        kind, obj = item[0], item[1]
        name = getattr(obj, "name", None) or getattr(getattr(obj, "table", None), "name", None)
        if kind in ("add_table", "remove_table") and name in ignored_tables:
            continue
        problems.append(item[:2] if len(item) > 1 else item)
    return problems


def test_migrations__match_the_models(app):
    from web.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        assert _differences(connection) == []
