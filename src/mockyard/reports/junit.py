"""JUnit XML for CI systems: one test suite per API, one test case per operation and check.

A failing test case carries each distinct failure of that check on that operation (message,
response and the reproducing `curl`); one whose failures are all listed in the baseline is
skipped, like an expected failure. Each operation also has a `reach` test case, an error when no
request reached it. Skipped operations are skipped test cases, and anything that kept part of an
API untested is an error test case.

A comparison (`mockyard compare`) has one test case per operation and aspect compared; it fails
with each distinct difference found (both answers and the request that showed it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from mockyard.contract_events import ContractResult, DifferenceFound, FailureFound
from mockyard.reports import _text
from mockyard.reports._registry import report_format


@report_format(".xml")
def render(result: ContractResult) -> str:
    apis = list(dict.fromkeys([p.api for p in result.apis] + [t.api for t in result.tallies]))
    name = "mockyard compare" if result.is_comparison else "mockyard contract"
    root = ET.Element("testsuites", name=name, time=f"{result.elapsed:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for api in apis:
        for name, value in _suite(root, result, api).items():
            totals[name] += value
    for name, value in totals.items():
        root.set(name, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root: ET.Element, result: ContractResult, api: str) -> dict[str, int]:
    """One API's test suite; returns its counts."""
    suite = ET.SubElement(root, "testsuite", name=api)
    props = ET.SubElement(suite, "properties")
    shown = [("base_url", result.target.base_url), ("seed", str(result.seed))]
    if result.reference is not None:
        shown.insert(1, ("real_url", result.reference.base_url))
    for name, value in shown:
        ET.SubElement(props, "property", name=name, value=value)
    counts: dict[str, int] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(operation: str, name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=f"{api}.{operation}", name=name)

    failures: dict[tuple[str, str], list[FailureFound]] = defaultdict(list)
    for failure in (f for f in result.failures if f.api == api):
        failures[(failure.operation, failure.check)].append(failure)
    differences: dict[tuple[str, str], list[DifferenceFound]] = defaultdict(list)
    for difference in (d for d in result.differences if d.api == api):
        differences[(difference.operation, difference.aspect)].append(difference)
    tallies = {(t.operation, t.check): t.cases for t in result.tallies if t.api == api}
    note = _text.reproduce_note(result)
    for key in list(tallies) + [k for k in failures if k not in tallies]:
        element = case(*key)
        if key in tallies:
            checked = "requests compared" if result.is_comparison else "cases checked"
            ET.SubElement(element, "system-out").text = f"{tallies[key]} {checked}"
        for difference in differences.get(key, []):
            _difference(element, difference)
        counts["failures"] += key in differences
        found = failures.get(key, [])
        new = [f for f in found if not f.known]
        for failure in new:
            _failure(element, failure, note)
        counts["failures"] += bool(new)
        if found and not new:  # only known failures: like an expected failure, skipped
            listed = ", ".join(f"{f.code} {f.title}" for f in found)
            reason = f"known failure, listed in {result.baseline}: {listed}"
            ET.SubElement(element, "skipped", message=reason)
            counts["skipped"] += 1
    for reach in (r for r in result.reach if r.api == api):
        element = case(reach.operation, "reach")
        numbers = ", ".join(f"{n} {c}" for c, n in reach.by_class)
        detail = f"{reach.requests} requests to {reach.url}: {numbers or 'no answer'}"
        if reach.verdict:
            error = ET.SubElement(element, "error", message=reach.verdict, type="not_tested")
            error.text = detail
            counts["errors"] += 1
        else:
            ET.SubElement(element, "system-out").text = detail
    for skipped in (s for s in result.skipped if s.api == api):
        ET.SubElement(case(skipped.operation, "not tested"), "skipped", message=skipped.reason)
        counts["skipped"] += 1
    for problem in (e for e in result.errors if e.api == api):
        element = case(problem.where, "error")
        ET.SubElement(element, "error", message=problem.title, type="error").text = problem.message
        counts["errors"] += 1
    for count_name, number in counts.items():
        suite.set(count_name, str(number))
    return counts


def _failure(case: ET.Element, failure: FailureFound, note: str) -> None:
    body = "\n".join(
        [
            failure.message or failure.title,
            "",
            f"Response: {_text.response_line(failure)}",
            "",
            f"Reproduce: {note}" if note else "Reproduce:",
            failure.curl,
        ]
    )
    element = ET.SubElement(
        case, "failure", message=f"{failure.code} {failure.title}", type=failure.check
    )
    element.text = body


def _difference(case: ET.Element, difference: DifferenceFound) -> None:
    body = "\n".join(
        [
            f"{difference.detail} ({difference.count} requests)",
            "",
            f"Sandbox: {_text.answer_line(difference.sandbox_status, difference.sandbox_excerpt)}",
            f"Real: {_text.answer_line(difference.real_status, difference.real_excerpt)}",
            "",
            "Reproduce (against the real deployment):",
            difference.curl,
        ]
    )
    element = ET.SubElement(
        case, "failure", message=f"{difference.aspect}: {difference.detail}", type="difference"
    )
    element.text = body
