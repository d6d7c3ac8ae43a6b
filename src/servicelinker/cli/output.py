"""What the CLI prints: results as json (default), table or yaml (az's three `--output` formats), and the steps of
a long operation on stderr, both through `rich`.

Tables look like az's `-o table`: a header, a rule of dashes, one row per item, lists joined with ', ', no colour
when the output is not a terminal. Progress shows a spinner on the running step when stderr is a terminal, and
one line per finished step (`ok  Install sc-extension (1.2s): detail`) either way.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import yaml
from rich import box
from rich.console import Console
from rich.status import Status
from rich.table import Table
from rich.text import Text

from servicelinker.model.records import Step


class OutputFormat(StrEnum):
    json = "json"
    table = "table"
    yaml = "yaml"


#: az's table: header, a dashed rule, rows; two blanks between columns, no frame.
AZ_TABLE = box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return ""
    cols = list(columns) if columns else list(rows[0].keys())
    table = Table(box=AZ_TABLE, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="",
                  highlight=False)  # fmt: skip
    for c in cols:
        table.add_column(c, no_wrap=True, overflow="ignore")
    for r in rows:
        table.add_row(*(Text(_cell(r.get(c))) for c in cols))
    console = Console(width=100_000, no_color=True, highlight=False, force_terminal=False, soft_wrap=True)
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().rstrip("\n").splitlines())


def render(
    data: Any,
    fmt: OutputFormat = OutputFormat.json,
    table_rows: Sequence[Mapping[str, Any]] | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """Render `data`; for tables, `table_rows` (if given) is the flattened view of it."""
    if fmt is OutputFormat.json:
        return json.dumps(data, indent=2)
    if fmt is OutputFormat.yaml:
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    rows = table_rows
    if rows is None:
        if isinstance(data, list):
            rows = [d for d in data if isinstance(d, dict)]
        elif isinstance(data, dict):
            rows = [data]
        else:
            rows = []
    return render_table(rows, columns)


def emit(
    data: Any,
    fmt: OutputFormat = OutputFormat.json,
    table_rows: Sequence[Mapping[str, Any]] | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    text = render(data, fmt, table_rows, columns)
    if text:
        sys.stdout.write(text + "\n")


_MARKS = {"Succeeded": "ok  ", "Skipped": "--  ", "Failed": "FAIL"}


class Progress:
    """The step listener of a waiting command: a spinner while a step runs (on a terminal), a line when it ends."""

    def __init__(self, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True, highlight=False)
        self.started: dict[str, float] = {}
        self._status: Status | None = None

    def __call__(self, step: Step) -> None:
        if self.quiet:
            return
        if step.status == "Running":
            self.started[step.name] = time.monotonic()
            if self.console.is_terminal:
                self._stop()
                self._status = self.console.status(step.name)
                self._status.start()
            else:
                self.console.print(Text(f"...  {step.name}"), soft_wrap=True)
            return
        self._stop()
        took = time.monotonic() - self.started.get(step.name, time.monotonic())
        detail = f": {step.message}" if step.message and step.status != "Failed" else ""
        mark = _MARKS.get(step.status, step.status)
        self.console.print(Text(f"{mark} {step.name} ({took:.1f}s){detail}"), soft_wrap=True)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
