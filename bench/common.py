"""Shared benchmark pieces: a throw-away local stack, timing, percentiles, the table."""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from riskseal.settings import Settings
from riskseal.stack.local import LocalStack, StackEndpoints
from riskseal.stack.ports import find_free_ports


@dataclass(frozen=True)
class Row:
    """One line of a benchmark table."""

    name: str
    events_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio: float | None = None
    note: str = ""


@contextmanager
def local_stack() -> Iterator[StackEndpoints]:
    """A fresh local stack on free ports in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="riskseal-bench-") as tmp:
        settings = Settings.local(data_dir=Path(tmp))
        stack = LocalStack(settings, ports=find_free_ports())
        try:
            yield stack.up()
        finally:
            stack.down()


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (0..1) of ``samples`` (inclusive method)."""
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    return cuts[min(len(cuts) - 1, max(0, round(fraction * 1000) - 1))]


def rate(count: int, started: float) -> float:
    """Events per second since ``started`` (a perf_counter value)."""
    return count / (time.perf_counter() - started)


def machine() -> str:
    """A one-line description of this machine, for the README."""
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(title: str, rows: list[Row], console: Console | None = None) -> None:
    """Print the rows as a rich table."""
    table = Table(title=f"{title} — {machine()}")
    for column in ("benchmark", "events/s", "p50 ms", "p99 ms", "ratio", "note"):
        table.add_column(column, justify="left" if column in ("benchmark", "note") else "right")

    def show(value: float | None, fmt: str) -> str:
        return "" if value is None else format(value, fmt)

    for row in rows:
        table.add_row(
            row.name,
            show(row.events_per_s, ",.0f"),
            show(row.p50_ms, ".2f"),
            show(row.p99_ms, ".2f"),
            show(row.ratio, ".2f"),
            row.note,
        )
    (console or Console()).print(table)
