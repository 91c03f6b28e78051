"""The running app's engine, for views of any blueprint (API or pages): `engine()` inside a request or app context.

`web.engine_setup` builds the engine and stores it on the app; this module only reads it back, so page and API
modules can share it without importing each other.
"""
from __future__ import annotations

from datetime import date

from flask import current_app

from engine.clock import SHANGHAI
from engine.runtime import Engine

ENGINE_EXTENSION = "jiuzhu.engine"


def engine() -> Engine:
    return current_app.extensions[ENGINE_EXTENSION]


def today() -> date:
    """The engine clock's calendar day in Shanghai (a UTC date is yesterday there before 08:00)."""
    return engine().now().astimezone(SHANGHAI).date()
