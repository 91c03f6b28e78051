"""Text that cannot be stored: a lone surrogate ("\\ud800") is valid in a JSON string and in a Python str, but it
does not encode to UTF-8, so the database driver, the response encoder or the workflow serializer fails on it —
deep inside a step, as a 500. Requests are checked for such strings on entry (web.input_guard, inbound webhooks)
and refused as a 422 naming the field."""
from __future__ import annotations

from collections.abc import Iterator

from . import messages


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def bad_text_paths(value, root: str = "") -> Iterator[str]:
    """Dotted paths (``household.members.1.name``; ``root`` or ``body`` at the top) of strings that do not encode
    to UTF-8. A bad key is reported at the object holding it. Iterative: the nesting depth is the parser's limit."""
    stack: list[tuple[str, object]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _encodes(item):
                yield path or "body"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                key_text = str(key)
                if not _encodes(key_text):
                    yield path or "body"
                    key_text = "?"
                children.append((f"{path}.{key_text}" if path else key_text, child))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(f"{path}.{i}" if path else str(i), child) for i, child in enumerate(item)]))


def utf8_problems(value, root: str = "", limit: int = 20) -> dict[str, list[str]]:
    """``{path: [NOT_UTF8]}`` for the first ``limit`` bad strings of a parsed body (empty when all is well)."""
    out: dict[str, list[str]] = {}
    for path in bad_text_paths(value, root):
        out.setdefault(path, [messages.NOT_UTF8])
        if len(out) >= limit:
            break
    return out
