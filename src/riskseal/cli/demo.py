"""``riskseal demo``: the guided tour behind ``make demo``."""

from __future__ import annotations

import signal
from types import FrameType

import typer

from riskseal.cli._common import EXIT_FAILED, err, out, state
from riskseal.demo import DemoFailed, run_demo


def demo(ctx: typer.Context) -> None:
    """Run the demo on a throw-away local stack (temporary directory, free ports).

    Starts the local real stack and two risk workers, asks them for decisions, publishes
    generated traffic with injected attacks and shows the decisions and SOC alerts live,
    then seals, verifies, tampers with a copy and tries to undo Object Lock. Takes about a
    minute; everything it started is stopped at the end, also on Ctrl-C or SIGTERM.

    Example:

        riskseal demo
    """
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        run_demo(out, state(ctx).settings(profile="local"))
    except DemoFailed as exc:
        err.print(f"FAIL: {exc}", markup=False)
        raise typer.Exit(EXIT_FAILED) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, so the demo's clean-up runs as on Ctrl-C."""
    raise SystemExit(128 + signum)
