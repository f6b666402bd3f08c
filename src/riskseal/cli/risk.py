"""``riskseal risk worker``: run a risk processor worker (Faust)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from riskseal.cli._common import err, state

risk_app = typer.Typer(
    help="Run the risk processor: decisions and alerts from access events.",
    no_args_is_help=True,
)


@risk_app.callback()
def _risk() -> None:
    """Run the risk processor: decisions and alerts from access events."""


@risk_app.command("worker")
def worker(
    ctx: typer.Context,
    web_port: Annotated[
        int | None,
        typer.Option(help="Port of the worker's web server on 127.0.0.1 (default: 6066)."),
    ] = None,
    store: Annotated[
        Literal["memory", "rocksdb"] | None,
        typer.Option(help="Table store: rocksdb (kept on disk) or memory (default: rocksdb)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory of the tables (default: .riskseal/risk)."),
    ] = None,
    loglevel: Annotated[
        Literal["debug", "info", "warning", "error"], typer.Option(help="Log level.")
    ] = "info",
) -> None:
    """Decide access requests and raise alerts until SIGTERM or Ctrl-C.

    Reads access.requests and access.actions, keeps per-user state in tables, writes one
    decision per request to risk.decisions, alerts to risk.alerts and undecodable input to
    risk.deadletter. Start more workers with the same RISKSEAL_RISK_APP_ID to share the
    partitions; give each its own --web-port and --data-dir.

    Example:

        riskseal risk worker --web-port 6067 --store rocksdb --data-dir /var/lib/riskseal/w1
    """
    settings = state(ctx).settings(risk_web_port=web_port, risk_store=store, risk_data_dir=data_dir)
    from riskseal.risk.worker import run_worker  # imports Faust: only when running one

    err.print(
        f"OK: starting risk worker {settings.risk_app_id} on {settings.kafka_bootstrap} "
        f"(store {settings.risk_store} in {settings.risk_data_dir}, "
        f"web 127.0.0.1:{settings.risk_web_port})"
    )
    run_worker(settings, loglevel=loglevel)
