"""JUnit XML for CI systems: one test suite per API, one test case per operation and check.

A failing test case carries each distinct failure of that check on that operation (message,
response and the reproducing `curl`); skipped operations are skipped test cases, and anything that
kept part of an API untested is an error test case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from mockyard.contract_events import ContractResult, FailureFound
from mockyard.reports import _text
from mockyard.reports._registry import report_format


@report_format(".xml")
def render(result: ContractResult) -> str:
    apis = list(dict.fromkeys([p.api for p in result.apis] + [t.api for t in result.tallies]))
    root = ET.Element("testsuites", name="mockyard contract", time=f"{result.elapsed:.3f}")
    failures_by_case: dict[tuple[str, str, str], list[FailureFound]] = defaultdict(list)
    for failure in result.failures:
        failures_by_case[(failure.api, failure.operation, failure.check)].append(failure)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for api in apis:
        suite = ET.SubElement(root, "testsuite", name=api)
        props = ET.SubElement(suite, "properties")
        for name, value in (("base_url", result.target.base_url), ("seed", str(result.seed))):
            ET.SubElement(props, "property", name=name, value=value)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        seen = set()
        for tally in (t for t in result.tallies if t.api == api):
            key = (api, tally.operation, tally.check)
            seen.add(key)
            case = _case(suite, api, tally.operation, tally.check)
            ET.SubElement(case, "system-out").text = f"{tally.cases} cases checked"
            counts["tests"] += 1
            if failures_by_case.get(key):
                counts["failures"] += 1
                for failure in failures_by_case[key]:
                    _failure(case, failure, _text.reproduce_note(result))
        for key, found in failures_by_case.items():
            if key[0] == api and key not in seen:
                case = _case(suite, api, key[1], key[2])
                counts["tests"] += 1
                counts["failures"] += 1
                for failure in found:
                    _failure(case, failure, _text.reproduce_note(result))
        for skipped in (s for s in result.skipped if s.api == api):
            case = _case(suite, api, skipped.operation, "not tested")
            ET.SubElement(case, "skipped", message=skipped.reason)
            counts["tests"] += 1
            counts["skipped"] += 1
        for error in (e for e in result.errors if e.api == api):
            case = _case(suite, api, error.where, "error")
            ET.SubElement(case, "error", message=error.title, type="error").text = error.message
            counts["tests"] += 1
            counts["errors"] += 1
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
    for name, value in totals.items():
        root.set(name, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(suite: ET.Element, api: str, operation: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=f"{api}.{operation}", name=name)


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
