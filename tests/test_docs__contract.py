"""The docs and the code agree, both ways, and the docs stand alone.

- every setting of web/settings.py is in docs/settings.md, and that table lists no setting that does not exist;
- every API route (and method) is in docs/ and in openapi.json, and every `METHOD /path` the docs name exists;
- README.md and docs/ never link outside the repository (a clone has nothing beside it).
"""
import re
from pathlib import Path

import pytest

from web.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# `GET /tasks/{id}/draft`, `POST /admin/clock {advance}`, `GET /calendar/working-days?start=&days=`
ENDPOINT = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?{]*(?:\{\w+\}[^`\s?{]*)*)[^`]*`")
PARAM = re.compile(r"\{\w+\}")
CONVERTER = re.compile(r"<(?:\w+:)?\w+>")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def documented_endpoints(text: str) -> set[tuple[str, str]]:
    """(METHOD, path shape with {} for parameters) for every `METHOD /path` in backticks."""
    return {(m.group(1), PARAM.sub("{}", m.group(2).rstrip("/") or "/")) for m in ENDPOINT.finditer(text)}


def route_endpoints(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        for method in (rule.methods or set()) & set(METHODS):
            found.add((method, CONVERTER.sub("{}", rule.rule).rstrip("/") or "/"))
    return found


def test_docs__every_setting_documented_and_no_other():
    settings_page = _text(DOCS / "settings.md")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in settings_page]
    assert not missing, f"settings not in docs/settings.md: {missing}"
    table_names = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", settings_page, flags=re.M))
    unknown = table_names - {s.name for s in SETTINGS}
    assert not unknown, f"docs/settings.md lists settings that web/settings.py does not declare: {unknown}"


def test_docs__every_api_route_in_docs_and_openapi(app, login):
    spec = login("admin").get("openapi.json").get_json()
    documented = set()
    for page in PAGES:
        documented |= documented_endpoints(_text(page))
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], f"{path} missing from openapi.json"
        view = app.view_functions[rule.endpoint]
        assert (view.__doc__ or "").strip(), f"{rule.endpoint} has no summary"
        short = PARAM.sub("{}", path.removeprefix("/api/v1"))
        for method in sorted((rule.methods or set()) & set(METHODS)):
            if (method, short) not in documented and (method, PARAM.sub("{}", path)) not in documented:
                missing.append(f"{method} {short}")
    assert not missing, f"API routes not documented in docs/: {missing}"


def test_docs__every_documented_endpoint_exists(app):
    routes = route_endpoints(app)
    wrong = []
    for page in PAGES:
        for method, shape in sorted(documented_endpoints(_text(page))):
            # Relative to /api/v1 unless the route lives elsewhere (/health, /webhooks/…, /api/v1/… written out).
            if (method, "/api/v1" + shape) not in routes and (method, shape) not in routes:
                wrong.append(f"{page.relative_to(ROOT)}: {method} {shape}")
    assert not wrong, f"docs name endpoints that do not exist: {wrong}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs__links_stay_inside_the_repository(page):
    text = _text(page)
    for outside in ("/work/shared", "../shared"):
        assert outside not in text, f"{page.name} refers to {outside}, which a clone does not have"
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # https:, mailto:, in-page anchors
        assert not target.startswith("/"), f"{page.name}: absolute link {target}"
        resolved = (page.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} points outside the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"


def test_docs__the_checks_catch_what_they_should(app, tmp_path):
    # The checks themselves: an endpoint that does not exist is found, the shapes match with any parameter name.
    routes = route_endpoints(app)
    assert ("GET", "/api/v1/tasks/{}") in routes
    assert documented_endpoints("`GET /tasks/{id}` and `POST /tasks/{task_id}/claim {x}` `GET /a?b=`") == {
        ("GET", "/tasks/{}"), ("POST", "/tasks/{}/claim"), ("GET", "/a")}
    assert ("GET", "/api/v1/no-such-thing") not in routes
