"""A self-contained HTML report of a contract run (inline CSS, no scripts, no external files)."""

from __future__ import annotations

from html import escape

from mockyard.contract_events import ContractResult, DifferenceFound, FailureFound, Outcome
from mockyard.reports import _text
from mockyard.reports._registry import report_format

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem}
.verdict{padding:.6rem 1rem;border-radius:4px;font-weight:600}
.passed{background:#e6f4ea;color:#145a2a}.failed{background:#fde8e8;color:#8a1c1c}
.errored{background:#fff4e0;color:#7a4b00}
table{border-collapse:collapse;width:100%}th,td{padding:.25rem .6rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fdf0f0}code,pre{font:12px/1.4 ui-monospace,monospace}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
"""


@report_format(".html", ".htm")
def render(result: ContractResult) -> str:
    target = result.target
    css = {Outcome.PASSED: "passed", Outcome.FAILED: "failed", Outcome.ERRORED: "errored"}
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text.title(result)}: {escape(target.base_url)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_text.title(result)}</h1>",
        f'<p class="verdict {css[result.outcome]}">{escape(_text.verdict(result))}</p>',
        "<ul>",
    ]
    parts += [
        f"<li>{role}: <code>{escape(where.base_url)}</code> "
        f"({escape(_text.describe_target(where))})</li>"
        for role, where in _text.targets(result)
    ]
    parts += [f"<li>Settings: {escape(_text.settings_line(result))}</li>"]
    for plan in result.apis:
        reset = "; sandbox reset before the run" if plan.reset else ""
        details = escape("; ".join(_text.plan_lines(plan)))
        parts.append(
            f"<li><code>{escape(plan.api)}</code>: <code>{escape(plan.spec)}</code> at "
            f"<code>{escape(plan.base_url)}</code>; {details}{reset}</li>"
        )
    parts += [f"<li>Note: {escape(note)}</li>" for note in result.notes]
    heading, *names = _text.columns(result)
    heads = "".join(f"<th>{name.capitalize()}</th>" for name in names)
    parts += ["</ul>", f"<h2>{heading}</h2>", f"<table><tr><th>Operation</th>{heads}</tr>"]
    for operation, check, cases, failures in _text.table_rows(result.tallies):
        row = ' class="bad"' if failures else ""
        parts.append(
            f"<tr{row}><td><code>{escape(operation)}</code></td><td>{escape(check)}</td>"
            f'<td class="n">{cases}</td><td class="n">{failures}</td></tr>'
        )
    parts.append("</table>")
    parts += _reach(result)
    for heading, items in _text.listings(result):
        parts += [f"<h2>{escape(heading)}</h2>", "<ul>"]
        parts += [f"<li>{escape(item)}</li>" for item in items]
        parts.append("</ul>")
    if result.new_failures:
        parts.append("<h2>Failures</h2>")
        if _text.reproduce_note(result):
            parts.append(f"<p>{escape(_text.reproduce_note(result))}</p>")
        for index, failure in enumerate(result.new_failures, 1):
            parts += _failure(index, failure)
    if result.differences:
        parts.append("<h2>Differences (sandbox vs real)</h2>")
        for index, difference in enumerate(result.differences, 1):
            parts += _difference(index, difference)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _reach(result: ContractResult) -> list[str]:
    rows = list(_text.reach_rows(result))
    if not rows:
        return []
    heads = "".join(f"<th>{escape(c)}</th>" for c in _text.REACH_COLUMNS)
    parts = [
        "<h2>Reach by operation</h2>",
        f"<table><tr><th>Operation</th><th>URL</th>{heads}<th>Verdict</th></tr>",
    ]
    for reach, numbers in rows:
        row = ' class="bad"' if reach.verdict else ""
        figures = "".join(f'<td class="n">{n}</td>' for n in numbers)
        parts.append(
            f"<tr{row}><td><code>{escape(reach.api)} {escape(reach.operation)}</code></td>"
            f"<td><code>{escape(reach.url)}</code></td>{figures}"
            f"<td>{escape(reach.verdict or 'tested')}</td></tr>"
        )
    parts.append("</table>")
    return parts


def _failure(index: int, failure: FailureFound) -> list[str]:
    return [
        f"<h3>{escape(_text.failure_heading(index, failure))}</h3>",
        f"<p>Operation: <code>{escape(_text.operation_name(failure.api, failure.operation))}"
        "</code></p>",
        "<p>Expected vs seen:</p>",
        f"<pre>{escape(failure.message or failure.title)}</pre>",
        f"<p>Response: <code>{escape(_text.response_line(failure))}</code></p>",
        "<p>Reproduce:</p>",
        f"<pre>{escape(failure.curl)}</pre>",
    ]


def _difference(index: int, difference: DifferenceFound) -> list[str]:
    name = _text.operation_name(difference.api, difference.operation)
    sandbox = _text.answer_line(difference.sandbox_status, difference.sandbox_excerpt)
    real = _text.answer_line(difference.real_status, difference.real_excerpt)
    return [
        f"<h3>{escape(_text.difference_heading(index, difference))}</h3>",
        f"<p>Operation: <code>{escape(name)}</code></p>",
        f"<p>Sandbox: <code>{escape(sandbox)}</code></p>",
        f"<p>Real: <code>{escape(real)}</code></p>",
        "<p>Reproduce (against the real deployment):</p>",
        f"<pre>{escape(difference.curl)}</pre>",
    ]
