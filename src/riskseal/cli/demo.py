"""``riskseal demo``: the guided tour behind ``make demo``."""

from __future__ import annotations

import typer

from riskseal.cli._common import EXIT_FAILED, err, out, state
from riskseal.demo import DemoFailed, run_demo


def demo(ctx: typer.Context) -> None:
    """Run the demo on a throw-away local stack (temporary directory, free ports).

    Example:

        riskseal demo
    """
    try:
        run_demo(out, state(ctx).settings(profile="local"))
    except DemoFailed as exc:
        err.print(f"FAIL: {exc}", markup=False)
        raise typer.Exit(EXIT_FAILED) from exc
