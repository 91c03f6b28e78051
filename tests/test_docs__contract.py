"""Every setting and every API route is documented; the OpenAPI document lists every route."""
import re
from pathlib import Path

from web.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_docs__every_setting_in_readme():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert not missing, f"settings not in README: {missing}"


def test_docs__every_api_route_in_readme_and_openapi(app, login):
    spec = login("admin").get("openapi.json").get_json()
    documented_paths = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in documented_paths, f"{path} missing from openapi.json"
        # Parameter names may differ ({id} in the README, {task_id} in the route); the shape may not.
        short = re.sub(r"\{\w+\}", "{}", path.removeprefix("/api/v1"))
        last = short.rsplit("/", 1)[-1]
        readme = re.sub(r"\{\w+\}", "{}", README)
        assert short in readme or (last and f"`/{last}`" in readme), f"{short} missing from README"
        view = app.view_functions[rule.endpoint]
        assert (view.__doc__ or "").strip(), f"{rule.endpoint} has no summary"
