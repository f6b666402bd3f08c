"""``riskseal emit``: publish JSON-lines events, reporting every bad line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from riskseal.cli._common import EXIT_ERROR, EXIT_FAILED, err, out, state
from riskseal.contract.codec import EventCodec
from riskseal.sdk.client import AuditClient
from riskseal.sdk.jsonlines import EventLineError, parse_event_line


def emit(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="File of JSON lines, or - for standard input.")
    ] = "-",
    check: Annotated[bool, typer.Option("--check", help="Only validate; publish nothing.")] = False,
) -> None:
    """Validate and publish events given as JSON lines (format: docs/events.md).

    Every bad line is reported with its line number and the field at fault; good lines are
    published all the same. Exit 1 when any line was bad or not delivered.

    Example:

        echo '{"kind": "request", "actor": {"uid": "alice"}, "action": "data.read",
        "resource": {"type": "document", "uid": "q3"}}' | riskseal emit -
    """
    # A file can be larger than the client's buffer: wait for the broker instead of failing.
    settings = state(ctx).settings(sdk_on_buffer_full="block")
    codec = EventCodec(max_event_bytes=settings.max_event_bytes)
    client = None if check else AuditClient(settings)
    good = bad = 0
    try:
        with _lines(source) as lines:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    parsed = parse_event_line(raw.rstrip(b"\r\n"), codec)
                except EventLineError as exc:
                    bad += 1
                    err.print(f"FAIL: line {number}: {exc}", markup=False)
                    continue
                if client is not None:
                    client.publish(parsed.event, parsed.headers)
                good += 1
    finally:
        failures = client.close() if client is not None else []
    for failure in failures:
        err.print(f"FAIL: event {failure.event_id} not delivered: {failure.reason}", markup=False)
    verb = "valid" if check else "published"
    out.print(f"{good - len(failures)} {verb}, {bad} bad lines, {len(failures)} not delivered")
    if bad or failures:
        raise typer.Exit(EXIT_FAILED)


@contextmanager
def _lines(source: str) -> Iterator[BinaryIO]:
    if source == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = Path(source).open("rb")  # noqa: SIM115 - closed by `with handle` below
    except OSError as exc:
        err.print(f"error: cannot read {source}: {exc.strerror}", markup=False)
        raise typer.Exit(EXIT_ERROR) from exc
    with handle:
        yield handle
