"""Reporters for contract runs: each consumes `mockyard.contract_events`, none prints.

`terminal` turns events into lines as they come (`cli.py` echoes them); the file formats turn the
final `ContractResult` into text: JUnit XML for CI systems, and a self-contained HTML or Markdown
report, chosen by the file's suffix through a small registry.
"""

from mockyard.reports import html, junit, markdown
from mockyard.reports._registry import formats, report_format, unregister, write, writer_for
from mockyard.reports._text import error_line
from mockyard.reports.terminal import TerminalReport

__all__ = [
    "TerminalReport",
    "error_line",
    "formats",
    "html",
    "junit",
    "markdown",
    "report_format",
    "unregister",
    "write",
    "writer_for",
]
