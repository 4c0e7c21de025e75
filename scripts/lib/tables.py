"""Plain-text tables for the reports scripts print (stdlib only, so any Python 3.11 can run them)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """Columns padded to their widest cell; ``align`` has one 'l' or 'r' per column (default l)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    sides = align.ljust(len(headers), "l")

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if side == "r" else cell.ljust(width)
            for cell, width, side in zip(cells, widths, sides, strict=True)
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *map(line, rows)])
