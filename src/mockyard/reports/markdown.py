"""A Markdown report of a contract run: what the terminal summary says, for a PR or a wiki."""

from __future__ import annotations

from mockyard.contract_events import ContractResult, DifferenceFound, FailureFound
from mockyard.reports import _text
from mockyard.reports._registry import report_format


@report_format(".md", ".markdown")
def render(result: ContractResult) -> str:
    out = [f"# {_text.title(result)}", "", f"**{_text.verdict(result)}**", ""]
    out += [
        f"- {role}: `{where.base_url}` ({_text.describe_target(where)})"
        for role, where in _text.targets(result)
    ]
    out.append(f"- Settings: {_text.settings_line(result)}")
    for plan in result.apis:
        reset = "; sandbox reset before the run" if plan.reset else ""
        details = "; ".join(_text.plan_lines(plan))
        out.append(f"- `{plan.api}`: `{plan.spec}` at `{plan.base_url}`; {details}{reset}")
    out += [f"- Note: {note}" for note in result.notes]
    heading, *names = _text.columns(result)
    out += ["", f"## {heading}", ""]
    out += ["| Operation | " + " | ".join(n.capitalize() for n in names) + " |"]
    out += ["|---|---|--:|--:|"]
    for operation, check, cases, failures in _text.table_rows(result.tallies):
        name = f"`{operation}`" if operation else ""
        mark = f"**{failures}** ✗" if failures else "0"
        out.append(f"| {name} | {check} | {cases} | {mark} |")
    out += _reach(result)
    for heading, items in _text.listings(result):
        out += ["", f"## {heading}", ""]
        out += [f"- {_esc(item)}" for item in items]
    if result.new_failures:
        out += ["", "## Failures"]
        if _text.reproduce_note(result):
            out += ["", _text.reproduce_note(result)]
        for index, failure in enumerate(result.new_failures, 1):
            out += _failure(index, failure)
    if result.differences:
        out += ["", "## Differences (sandbox vs real)"]
        for index, difference in enumerate(result.differences, 1):
            out += _difference(index, difference)
    return "\n".join(out) + "\n"


def _difference(index: int, difference: DifferenceFound) -> list[str]:
    name = _text.operation_name(difference.api, difference.operation)
    sandbox = _text.answer_line(difference.sandbox_status, difference.sandbox_excerpt)
    real = _text.answer_line(difference.real_status, difference.real_excerpt)
    return [
        "",
        f"### {_esc(_text.difference_heading(index, difference))}",
        "",
        f"Operation: `{name}`",
        "",
        f"- Sandbox: `{sandbox.replace('`', chr(39))}`",
        f"- Real: `{real.replace('`', chr(39))}`",
        "",
        "Reproduce (against the real deployment):",
        "",
        "```bash",
        difference.curl,
        "```",
    ]


def _reach(result: ContractResult) -> list[str]:
    rows = list(_text.reach_rows(result))
    if not rows:
        return []
    out = ["", "## Reach by operation", ""]
    out += ["| Operation | URL | " + " | ".join(_text.REACH_COLUMNS) + " | Verdict |"]
    out += ["|---|---|" + "--:|" * len(_text.REACH_COLUMNS) + "---|"]
    for reach, numbers in rows:
        figures = " | ".join(str(n) for n in numbers)
        verdict = f"**{_esc(reach.verdict)}**" if reach.verdict else "tested"
        out.append(f"| `{reach.api} {reach.operation}` | `{reach.url}` | {figures} | {verdict} |")
    return out


def _failure(index: int, failure: FailureFound) -> list[str]:
    return [
        "",
        f"### {_text.failure_heading(index, failure)}",
        "",
        f"Operation: `{_text.operation_name(failure.api, failure.operation)}`",
        "",
        "Expected vs seen:",
        "",
        "```text",
        failure.message.replace("```", "'''") or failure.title,
        "```",
        "",
        f"Response: `{_text.response_line(failure).replace('`', chr(39))}`",
        "",
        "Reproduce:",
        "",
        "```bash",
        failure.curl,
        "```",
    ]


def _esc(text: str) -> str:
    return text.replace("|", "\\|")
