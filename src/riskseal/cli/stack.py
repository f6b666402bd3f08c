"""``riskseal stack up | down | status | env``: the local real stack."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from riskseal.cli._common import EXIT_FAILED, err, out, state
from riskseal.stack.local import LocalStack, StackEndpoints

stack_app = typer.Typer(
    help="Start, inspect and stop the local real stack (Tansu broker + SeaweedFS S3).",
    no_args_is_help=True,
)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory of the stack.", show_default=".riskseal"),
]


def _stack(
    ctx: typer.Context,
    data_dir: Path | None,
    kafka_port: int | None = None,
    s3_port: int | None = None,
    kafka_storage: str | None = None,
    retention_days: int | None = None,
    timeout: float | None = None,
) -> LocalStack:
    settings = state(ctx).settings(
        profile="local",
        data_dir=data_dir,
        stack_kafka_port=kafka_port,
        stack_s3_port=s3_port,
        stack_kafka_storage=kafka_storage,
        object_lock_retention_days=retention_days,
        stack_ready_timeout_s=timeout,
    )
    return LocalStack(settings)


@stack_app.command("up")
def up(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    kafka_port: Annotated[
        int | None, typer.Option(help="Kafka port of the broker.", show_default="19092")
    ] = None,
    s3_port: Annotated[
        int | None,
        typer.Option(help="S3 port; SeaweedFS also uses the next 9 ports.", show_default="18333"),
    ] = None,
    kafka_storage: Annotated[
        Literal["memory", "s3"] | None,
        typer.Option(help="Broker storage: memory (fast, lost on stop) or s3 (kept)."),
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Default COMPLIANCE retention of the audit bucket.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for each server.", show_default="60")
    ] = None,
) -> None:
    """Start the stack, wait until it answers, create the bucket and the topics.

    Running it again while the stack is up changes nothing and prints the endpoints.

    Example:

        riskseal stack up --data-dir /tmp/rs --kafka-port 29092 --s3-port 28333
    """
    stack = _stack(ctx, data_dir, kafka_port, s3_port, kafka_storage, retention_days, timeout)
    err.print(f"starting the local stack in {stack.data_dir} …")
    endpoints = stack.up()
    wanted = {
        "Kafka": (kafka_port, endpoints.kafka_bootstrap),
        "S3": (s3_port, endpoints.s3_endpoint),
    }
    for server, (port, address) in wanted.items():
        if port is not None and not address.endswith(f":{port}"):
            err.print(
                f"NOTE: the stack in {stack.data_dir} was already running; its {server} is at "
                f"{address}, not port {port} (`riskseal stack down` first to move it)",
                markup=False,
            )
    err.print("OK: stack is up")
    _print_endpoints(endpoints)


@stack_app.command("down")
def down(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    wipe: Annotated[bool, typer.Option("--wipe", help="Also delete all data.")] = False,
) -> None:
    """Stop the servers started by `stack up` (found by their pid files).

    Data stays for the next `up` unless --wipe. A stale pid file is removed.

    Example:

        riskseal stack down --data-dir /tmp/rs --wipe
    """
    stack = _stack(ctx, data_dir)
    stopped = stack.down(wipe=wipe)
    err.print(f"OK: stopped {', '.join(stopped) if stopped else 'nothing (no server running)'}")
    if wipe:
        err.print(f"OK: removed {stack.data_dir}")


@stack_app.command("status")
def status(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show which servers run and where they answer; exit 1 when the stack is not up.

    Example:

        riskseal stack status --json
    """
    current = _stack(ctx, data_dir).status()
    if as_json:
        document = {
            "running": current.running,
            "servers": current.servers,
            "endpoints": _public_endpoints(current.endpoints) if current.endpoints else None,
        }
        out.print_json(json.dumps(document))
    else:
        table = Table("server", "pid", title="riskseal local stack")
        for name, pid in current.servers.items():
            table.add_row(name, str(pid) if pid else "[red]stopped[/red]")
        out.print(table)
        if current.endpoints:
            for key, value in _public_endpoints(current.endpoints).items():
                out.print(f"{key}: {value}", markup=False)
    if not current.running:
        raise typer.Exit(EXIT_FAILED)


@stack_app.command("env")
def env(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Print the RISKSEAL_* variables of the running stack as shell exports.

    The output includes the sealer's and auditor's S3 keys of the local stack.

    Example:

        eval "$(riskseal stack env)"
    """
    endpoints = _stack(ctx, data_dir).status().endpoints
    if endpoints is None:
        err.print("FAIL: the stack is not running; start it with `riskseal stack up`")
        raise typer.Exit(EXIT_FAILED)
    variables = endpoints.env()
    if as_json:
        out.print_json(json.dumps(variables))
        return
    for name, value in variables.items():
        out.print(f"export {name}={shlex.quote(value)}", markup=False)


def _public_endpoints(endpoints: StackEndpoints) -> dict[str, str]:
    return {
        "kafka_bootstrap": endpoints.kafka_bootstrap,
        "kafka_cluster_id": endpoints.kafka_cluster_id,
        "kafka_storage": endpoints.kafka_storage,
        "s3_endpoint": endpoints.s3_endpoint,
        "s3_bucket": endpoints.s3_bucket,
        "data_dir": str(endpoints.data_dir),
    }


def _print_endpoints(endpoints: StackEndpoints) -> None:
    for key, value in _public_endpoints(endpoints).items():
        out.print(f"{key}: {value}", markup=False)
