"""The layering DESIGN and docs/architecture.md promise, checked on the source: engine/ knows no Flask and no domain,
pages never import the API blueprints, bench never imports tests, imports sit at the top of modules (or say why),
and no two modules import each other in a loop."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "workflows", "webhooks", "web", "bench")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    # `from pkg import sub` imports the submodule when there is one
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str, path: Path):
    """(top-level imports, imports inside functions or classes without a comment saying why)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = path.read_text(encoding="utf-8").splitlines()
    is_package = path.name == "__init__.py"
    top: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            top += _resolve(module, node, is_package)
    nested: list[str] = []
    for outer in ast.walk(tree):
        if not isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(outer):
            if isinstance(node, ast.Import | ast.ImportFrom):
                context = " ".join(lines[max(0, node.lineno - 3): node.end_lineno])
                if "#" not in context:  # a comment next to it says why it is not at the top
                    nested.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return top, nested


GRAPH = {}
NESTED = []
for _name, _path in MODULES.items():
    _top, _nested = _imports(_name, _path)
    GRAPH[_name] = {m for m in _top if m in MODULES and m != _name}
    NESTED += _nested


@pytest.mark.parametrize("package", ["engine"])
def test_layout__engine_imports_no_flask_and_no_domain(package):
    offenders = []
    for name, path in MODULES.items():
        if name.split(".")[0] != package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _resolve(name, node, path.name == "__init__.py"):
                    if target.split(".")[0] in ("flask", "workflows", "web", "webhooks"):
                        offenders.append(f"{name} → {target}")
    assert not offenders


def test_layout__pages_do_not_import_the_api_and_bench_not_the_tests():
    offenders = [f"{m} → {t}" for m, targets in GRAPH.items() for t in targets
                 if (m.startswith("web.ui") and t.startswith("web.api"))]
    for name, path in MODULES.items():
        if name.startswith("bench") and "tests" in {t.split(".")[0] for t in _imports(name, path)[0]}:
            offenders.append(f"{name} → tests")
    assert not offenders


def test_layout__imports_at_the_top_unless_a_comment_says_why():
    assert not NESTED, "imports inside functions without a comment: " + ", ".join(NESTED)


def test_layout__no_import_loops():
    loops = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            # A package importing its own submodules (to re-export or register them) is not a loop.
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                loops.append(" → ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not loops, loops
