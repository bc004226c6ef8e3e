"""Markdown tables of dict rows, for `IPython.display.Markdown` or print."""
from __future__ import annotations

from typing import Sequence


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None, digits: int = 2) -> str:
    """A markdown table of dict rows (floats rounded), for `IPython.display.Markdown` or print."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(v) -> str:
        text = f"{v:.{digits}f}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
