"""A progress bar on stderr for long audit runs (``verify``, ``export``).

Shown when stderr is a terminal, or when ``--progress`` asks for it; never with ``--json``,
whose output must stay machine-readable (the bar only ever goes to stderr anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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

from riskseal.audit.report import ProgressSink
from riskseal.cli._common import err


class _Bar:
    """Feeds one rich progress task from the verifier's block counts."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task
        self.total = 0

    def add_total(self, blocks: int) -> None:
        """Grow the bar's total."""
        self.total += blocks
        self.progress.update(self.task, total=self.total)

    def advance(self, blocks: int) -> None:
        """Move the bar on."""
        self.progress.advance(self.task, blocks)


def show_progress(requested: bool, as_json: bool) -> bool:
    """Whether to draw a bar: asked for, or stderr is a terminal; never with ``--json``."""
    return not as_json and (requested or err.is_terminal)


@contextmanager
def block_progress(enabled: bool, label: str) -> Iterator[ProgressSink | None]:
    """A ProgressSink drawing a bar of blocks on stderr while the block runs, or None."""
    if not enabled:
        yield None
        return
    console = err if err.is_terminal else Console(stderr=True, force_terminal=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress, progress.add_task(label, total=None))
