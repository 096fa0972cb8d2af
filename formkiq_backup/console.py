"""Where readable output goes: the terminal's width, or a fixed width when saved for review."""

import os
from typing import Any

from rich.console import Console

# Columns of output that goes to a file or a pipe rather than a terminal: wide enough that
# table, bucket and ARN names are not broken, and the same on every machine so two runs diff.
SAVED_WIDTH = 120


def output_console(**options: Any) -> Console:
    """A console for stdout (or stderr with `stderr=True`); `COLUMNS` still wins when set."""
    console = Console(**options)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=SAVED_WIDTH, **options)
    return console
