"""ISO 8601 durations as used by the admin clock and the CLI (days, hours, minutes, seconds; weeks)."""
from __future__ import annotations

import re
from datetime import timedelta

_PATTERN = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(text.strip().upper()) if isinstance(text, str) else None
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"不是合法的 ISO 8601 时长：{text!r}（例如 P8D、PT2H）")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)
