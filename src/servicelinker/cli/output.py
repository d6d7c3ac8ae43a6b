"""Rendering of command results as json (default), table or yaml, the three `--output` formats of az."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import yaml


class OutputFormat(StrEnum):
    json = "json"
    table = "table"
    yaml = "yaml"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain aligned table, like az's `-o table`: one row per item, lists joined with ', '."""
    if not rows:
        return ""
    cols = list(columns) if columns else list(rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    header = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([header.rstrip(), rule, *body])


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
