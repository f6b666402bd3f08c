"""``riskseal generate``: realistic, labelled, reproducible traffic into Kafka or JSON lines.

Publishing waits when the SDK's buffer is full (``sdk_on_buffer_full=block`` for this
command), so an unpaced run is limited by the broker instead of failing with backpressure.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from riskseal.cli._common import EXIT_ERROR, EXIT_FAILED, err, out, state
from riskseal.generator.config import (
    DEFAULT_START,
    GeneratorConfig,
    Scenario,
    parse_start,
    resolve_scenarios,
)
from riskseal.generator.jsonl import to_json_line
from riskseal.generator.model import GeneratedEvent
from riskseal.generator.pacing import RunLimits
from riskseal.generator.publisher import client_sink
from riskseal.generator.runner import Sink, drive
from riskseal.generator.simulation import Simulation, simulate
from riskseal.generator.tally import Tally
from riskseal.sdk.client import AuditClient
from riskseal.sdk.delivery import DeliveryFailure
from riskseal.timestamps import iso_text

MAX_FAILURES_SHOWN = 20


def generate(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(min=1, help="Number of simulated users.")] = 50,
    scenario: Annotated[
        list[Scenario] | None,
        typer.Option(
            "--scenario",
            help="normal (no attacks), mixed (every attack kind) or one attack kind; "
            "repeat to combine (default: normal).",
        ),
    ] = None,
    attack_users: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Fraction of users attacked; at least one per attack kind."
        ),
    ] = 0.05,
    seed: Annotated[
        int, typer.Option(help="Seed: the same seed and options give the same events.")
    ] = 0,
    start: Annotated[
        str,
        typer.Option(
            help="Start of simulated time: ISO date or date-time, UTC unless an offset is given."
        ),
    ] = DEFAULT_START.date().isoformat(),
    sim_days: Annotated[
        float,
        typer.Option(
            min=0.001, help="Simulated days covered: sessions start in [start, start + sim-days)."
        ),
    ] = 1.0,
    rate: Annotated[
        float,
        typer.Option(min=0.0, help="Events per second of wall time; 0 = as fast as possible."),
    ] = 0.0,
    duration: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="Wall seconds to run; with --rate: exactly ceil(rate * duration) events.",
        ),
    ] = None,
    events: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write JSON lines to this file (- for stdout) instead of publishing.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Publish nothing; write JSON lines to stdout (or --output)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Generate office traffic with injected attacks; publish or write JSON lines.

    Users keep habits: home city, usual addresses and devices, working hours
    in their time zone, department, usual resources. Sessions start with
    auth.login and mix access requests with actions. Attack kinds:
    credential_stuffing, impossible_travel, exfiltration,
    privilege_escalation, new_device_country.

    Event times are simulated from --start over --sim-days; without --events
    or --duration the whole period is sent. The ground truth travels in the
    Kafka headers riskseal-truth (normal or the attack kind) and
    riskseal-attack-id, never in the payload; JSON lines carry it as "_truth"
    and "_headers", the input format of `riskseal emit`. The same seed and
    options give the same events, ids and times.

    Prints events per kind and truth label; exit 1 if any was not delivered.

    Example:

        riskseal generate --users 200 --sim-days 7 --scenario mixed --seed 7

        riskseal generate --scenario exfiltration --rate 50 --duration 60

        riskseal generate --users 20 --scenario mixed --output events.jsonl
    """
    config = GeneratorConfig(
        seed=seed,
        users=users,
        start_ms=parse_start(start),
        sim_days=sim_days,
        attacks=resolve_scenarios(scenario or [Scenario.NORMAL]),
        attack_fraction=attack_users,
    )
    limits = RunLimits(rate=rate, events=events, duration_s=duration)
    simulation = simulate(config)
    if dry_run or output is not None:
        to_stdout = output is None or str(output) == "-"
        with _jsonl_sink(output) as sink:
            tally = _run(simulation, sink, limits)
        _print_summary(tally, config, None, as_json, to=err if to_stdout else out)
        err.print(f"OK: wrote {tally.events} events", markup=False)
        return
    settings = state(ctx).settings(sdk_on_buffer_full="block")
    client = AuditClient(settings)
    try:
        tally = _run(simulation, client_sink(client), limits)
    finally:
        failures = client.close()
    _print_summary(tally, config, failures, as_json, to=out)
    for failure in failures[:MAX_FAILURES_SHOWN]:
        err.print(f"FAIL: event {failure.event_id} not delivered: {failure.reason}", markup=False)
    if failures:
        more = len(failures) - MAX_FAILURES_SHOWN
        if more > 0:
            err.print(f"FAIL: … and {more} more", markup=False)
        err.print(f"FAIL: {len(failures)} of {tally.events} events not delivered", markup=False)
        raise typer.Exit(EXIT_FAILED)
    err.print(
        f"OK: published {tally.events} events to {settings.topic_requests} and "
        f"{settings.topic_actions}",
        markup=False,
    )


def _run(simulation: Simulation, sink: Sink, limits: RunLimits) -> Tally:
    config = simulation.config
    total = limits.max_events
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]} events"),
        TextColumn("sim {task.fields[clock]}"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(
            "generating", total=total or config.span_ms, count=0, clock=iso_text(config.start_ms)
        )

        def report(tally: Tally) -> None:
            _show(bar, task, tally, config, total)

        return drive(simulation.events(), sink, limits, progress=report)


def _show(
    bar: Progress, task: TaskID, tally: Tally, config: GeneratorConfig, total: int | None
) -> None:
    clock = tally.last_ms if tally.last_ms is not None else config.start_ms
    done = tally.events if total else min(config.span_ms, clock - config.start_ms)
    bar.update(task, completed=done, count=tally.events, clock=iso_text(clock))


@contextmanager
def _jsonl_sink(output: Path | None) -> Iterator[Sink]:
    if output is None or str(output) == "-":
        yield _writer(sys.stdout)
        sys.stdout.flush()
        return
    try:
        handle = output.open("w", encoding="utf-8", newline="\n")
    except OSError as exc:
        err.print(f"error: cannot write {output}: {exc.strerror}", markup=False)
        raise typer.Exit(EXIT_ERROR) from exc
    with handle:
        yield _writer(handle)


def _writer(stream: TextIO) -> Sink:
    def write(generated: GeneratedEvent) -> None:
        stream.write(to_json_line(generated) + "\n")

    return write


def _print_summary(
    tally: Tally,
    config: GeneratorConfig,
    failures: list[DeliveryFailure] | None,
    as_json: bool,
    to: Console,
) -> None:
    if as_json:
        document: dict[str, Any] = {"seed": config.seed, **tally.to_json()}
        if failures is not None:
            document["not_delivered"] = len(failures)
        to.out(json.dumps(document))
        return
    kinds = ", ".join(f"{name}s {count}" for name, count in sorted(tally.by_kind.items()))
    to.out(f"events: {tally.events} ({kinds or 'none'}) from {len(tally.users)} users")
    if tally.first_ms is not None and tally.last_ms is not None:
        to.out(f"simulated: {iso_text(tally.first_ms)} .. {iso_text(tally.last_ms)}")
    attacks = tally.attacks_by_kind()
    truths = []
    for label, count in sorted(tally.by_truth.items()):
        instances = attacks.get(label, 0)
        plural = "s" if instances > 1 else ""
        truths.append(f"{label} {count}" + (f" ({instances} attack{plural})" if instances else ""))
    to.out(f"truth: {', '.join(truths) or 'none'}")
    actions = ", ".join(f"{name} {count}" for name, count in sorted(tally.by_action.items()))
    to.out(f"actions: {actions or 'none'}")
    if failures is not None:
        to.out(f"delivered: {tally.events - len(failures)}, not delivered: {len(failures)}")
