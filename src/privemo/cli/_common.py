"""Shared pieces of the CLI: rich progress, error reporting."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from privemo.errors import PrivemoError

console = Console(stderr=True, width=None if sys.stderr.isatty() else 130, soft_wrap=True)  # a message is never broken (paths stay whole)


@contextlib.contextmanager
def progress_bar() -> Iterator:
    """A callback ``(label, done, total[, detail])`` that draws one rich progress bar per label
    (``detail``, e.g. the current losses, is shown after the label)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as prog:
        tasks: dict[str, TaskID] = {}

        def update(label: str, done: int, total: int, detail: str = "") -> None:
            if label not in tasks:
                tasks[label] = prog.add_task(label, total=total)
            prog.update(tasks[label], completed=done, total=total,
                        description=f"{label} {detail}" if detail else label)

        yield update


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a privemo error as one clear line and exit 2 (no traceback)."""
    try:
        yield
    except PrivemoError as exc:
        console.print(f"[bold red]error:[/] {safe_text(exc)}")
        raise typer.Exit(2) from None


def safe_text(value: object) -> str:
    """``value`` as text that prints anywhere: undecodable file-name bytes escaped, rich markup escaped."""
    from rich.markup import escape

    return escape(str(value).encode("utf-8", "backslashreplace").decode("utf-8"))
