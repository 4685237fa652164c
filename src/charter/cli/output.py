"""Rendering helpers shared by the commands: JSON, tables, progress bars, error lines."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console

#: Listing commands show one page by default: all of a large inventory is slow to read and to scan by eye.
PAGE = 50

#: Progress bars only appear for work at least this large, and only on a terminal.
PROGRESS_THRESHOLD = 20_000


#: Width for output that goes to a file or a pipe, where rich would otherwise assume 80 columns.
PIPE_WIDTH = 240


def stdout() -> Console:
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH)
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def print_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(value, sort_keys=True, default=str) + "\n")


def time_option(value: str, option: str, *, now: datetime | None = None) -> datetime:
    """An ISO-8601 time given on the command line; with ``now``, also a number of days ahead (``90d``)."""
    from charter.clock import parse_timestamp
    from charter.errors import InvalidInput

    days = re.fullmatch(r"(\d+)d", value.strip())
    if now is not None and days:
        return now + timedelta(days=int(days[1]))
    try:
        return parse_timestamp(value)
    except ValueError:
        ahead = " or a number of days (90d)" if now is not None else ""
        raise InvalidInput(f"{option} {value!r} is not an ISO-8601 time such as 2026-11-22T09:30:00Z{ahead}") from None


def awaiting_approval(request_id: str, missing: str, *, subject: str = "", again: str = "this command") -> str:
    """The line that says a change request waits, for whom, and what to do next."""
    what = f" ({subject})" if subject else ""
    return (
        f"Change request {request_id}{what} waits for {missing}; approve with "
        f"`charter approvals approve {request_id} -j ...`, then run {again} again"
    )


def error_line(message: str) -> None:
    """The one line a user sees for an error (plain text: messages may contain brackets)."""
    sys.stderr.write(f"Error: {message}\n")


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for long work; yields a callback taking 'done so far'."""
    console = stderr()
    if total is None or total < PROGRESS_THRESHOLD or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)
