"""report.html: the run's weekly backlog and overdue counts drawn as inline SVG, with the summary tables.

One self-contained file — no script, no CDN, no external style sheet — so it opens from a mail attachment or a
shared folder on a machine without internet, and passes the app's content security policy if ever served.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

from .report import Row, share_text, summarize, totals, weeks
from .results import RunResult

COLOURS = ["#1f6fb2", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d", "#495057"]
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 940, 320, 56, 230, 20, 40


def _polyline(points: list[tuple[float, float]], colour: str, dashed: bool) -> str:
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>'


def line_chart(title: str, series: list[tuple[str, list[int], bool]], labels: list[str]) -> str:
    """An SVG line chart: `series` is (legend, one value per week, dashed)."""
    top = max([max(values, default=0) for _name, values, _dashed in series] + [1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels) - 1, 1)

    def xy(i: int, value: int) -> tuple[float, float]:
        return LEFT + plot_w * i / count, TOP + plot_h * (1 - value / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" font-size="12" font-family="sans-serif">']
    for k in range(5):  # horizontal grid with values
        value = round(top * k / 4)
        y = TOP + plot_h * (1 - value / top)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dee2e6"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    step = max(1, len(labels) // 12)
    for i in range(0, len(labels), step):
        x, _ = xy(i, 0)
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 18}" text-anchor="middle">{escape(labels[i])}</text>')
    for n, (name, values, dashed) in enumerate(series):
        colour = COLOURS[(n // 2 if any(d for _, _, d in series) else n) % len(COLOURS)]
        parts.append(_polyline([xy(i, v) for i, v in enumerate(values)], colour, dashed))
        y = TOP + 16 * n
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<line x1="{WIDTH - RIGHT + 10}" x2="{WIDTH - RIGHT + 34}" y1="{y + 6}" y2="{y + 6}" '
                     f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 40}" y="{y + 10}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _weekly(rows: list[Row], key: str, attribute: str, weeks: int) -> list[int]:
    values = [0] * weeks
    for r in rows:
        if key in (r.street, r.step):
            values[r.week.number - 1] = getattr(r, attribute)
    return values


def render(result: RunResult, rows: list[Row], seconds_line: str) -> str:
    scenario = result.scenario
    street_rows = totals(rows)
    all_weeks = weeks(scenario.start, scenario.end)
    week_count = len(all_weeks)
    labels = [f"{w.start:%m-%d}" for w in all_weeks]
    by_street = []
    for street in scenario.streets:
        by_street.append((f"{street} 积压", _weekly(street_rows, street, "backlog", week_count), False))
        by_street.append((f"{street} 超期", _weekly(street_rows, street, "overdue", week_count), True))
    step_totals: dict[str, list[int]] = {}
    step_names: dict[str, str] = {}
    for r in rows:
        step_totals.setdefault(r.step, [0] * week_count)[r.week.number - 1] += r.backlog
        step_names[r.step] = r.name
    named = [step_names[s] for s in step_totals]
    for step in step_names:  # one name in two processes (街道审核 of 低保 and of 复核): say which
        if named.count(step_names[step]) > 1:
            step_names[step] = f"{step_names[step]}（{step.split('/')[0]}）"
    busiest = sorted(step_totals, key=lambda s: -max(step_totals[s], default=0))[:8]
    by_step = [(step_names[s], step_totals[s], False) for s in result.step_order if s in busiest]
    summary = "".join(
        f"<tr><td>{escape(s.street)}</td><td>{s.peak_backlog}</td>"
        f"<td>{s.peak_week.start.isoformat() if s.peak_week else '—'}</td><td>{s.final_backlog}</td>"
        f"<td>{s.peak_overdue}</td><td>{share_text(s.within_share)}</td></tr>" for s in summarize(rows))
    step_table = "".join(
        f"<tr><td>{escape(s.street)}</td><td>{escape(r_name)}</td><td>{s.peak_backlog}</td><td>{s.final_backlog}</td>"
        f"<td>{s.peak_overdue}</td><td>{share_text(s.within_share)}</td></tr>"
        for step in result.step_order
        for r_name in [step_names.get(step, step)]
        for s in summarize([r for r in rows if r.step == step])
        if s.peak_backlog or s.within_share is not None)
    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    title = f"{scenario.name}：{scenario.start.isoformat()} 起 {scenario.months} 个月"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#212529}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ced4da;padding:4px 10px;text-align:right}}td:first-child,th:first-child,
td:nth-child(2),th:nth-child(2){{text-align:left}}h2{{margin-top:1.6em}}</style></head><body>
<h1>容量推演 · {escape(title)}</h1>
<p>{escape(scenario.district)}；每周末（周日 24 时）的待办积压与其中超期的任务数。{escape(seconds_line)}</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>各街道每周末积压（实线）与超期（虚线）</h2>
{line_chart("各街道每周末积压与超期", by_street, labels)}
<h2>各环节每周末积压（全区）</h2>
{line_chart("各环节每周末积压", by_step, labels)}
<h2>各街道汇总</h2>
<table><tr><th>街道</th><th>积压峰值</th><th>峰值所在周</th><th>期末积压</th><th>超期峰值</th><th>限内办结率</th></tr>
{summary}</table>
<h2>各环节汇总</h2>
<table><tr><th>街道</th><th>环节</th><th>积压峰值</th><th>期末积压</th><th>超期峰值</th><th>限内办结率</th></tr>
{step_table}</table>
<p>逐周数字见 report.csv：每周、每个街道、每个环节一行。</p>
</body></html>
"""


def write_html(result: RunResult, rows: list[Row], path: Path, seconds_line: str) -> None:
    path.write_text(render(result, rows, seconds_line), encoding="utf-8")
