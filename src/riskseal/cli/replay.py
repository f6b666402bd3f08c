"""``riskseal replay``: run the risk engine in process over recorded events, diff its decisions."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from riskseal.cli._common import EXIT_ERROR, EXIT_FAILED, err, out, state
from riskseal.contract.events import Alert, Decision
from riskseal.risk.engine import RiskEngine
from riskseal.risk.replay import (
    Replayer,
    decision_document,
    diff_decisions,
    in_event_time_order,
    read_event_lines,
)
from riskseal.sdk.jsonlines import EventLineError

REPLAY_SOURCE = "riskseal-replay"
MAX_DIFFS_SHOWN = 20


def replay(
    ctx: typer.Context,
    events: Annotated[
        Path,
        typer.Option(
            "--events",
            exists=True,
            dir_okay=False,
            help="JSON lines of requests and actions (the `riskseal emit` / `generate` format).",
        ),
    ],
    expected: Annotated[
        Path | None,
        typer.Option(
            "--expected",
            exists=True,
            dir_okay=False,
            help='JSON lines of the decisions to reproduce (lines with "kind": "decision").',
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write decisions and alerts here (default: stdout)."),
    ] = None,
    order: Annotated[
        str,
        typer.Option(
            help="`input`: the file's order (what a worker consuming it would see); "
            "`time`: sorted by event time."
        ),
    ] = "input",
    rules_dir: Annotated[
        Path | None, typer.Option(help="Rules directory (default: RISKSEAL_RISK_RULES_DIR).")
    ] = None,
    policies_dir: Annotated[
        Path | None,
        typer.Option(help="Cedar policies directory (default: RISKSEAL_RISK_POLICIES_DIR)."),
    ] = None,
) -> None:
    """Re-run the risk engine over recorded events and print or check its decisions.

    Writes one JSON line per decision ({"kind": "decision", ...}) and per alert
    ({"kind": "alert", ...}). With --expected, compares every decision field but the source
    stamp and exits 1 on any difference, naming the request and the fields.

    Example:

        riskseal generate --users 50 --scenario mixed --output events.jsonl
        riskseal replay --events events.jsonl --output decisions.jsonl
        riskseal replay --events events.jsonl --expected decisions.jsonl
    """
    if order not in ("input", "time"):
        err.print(f"error: --order must be `input` or `time`, got {order!r}")
        raise typer.Exit(EXIT_ERROR)
    settings = state(ctx).settings(risk_rules_dir=rules_dir, risk_policies_dir=policies_dir)
    engine = RiskEngine.load(settings, source_id=REPLAY_SOURCE)
    try:
        recorded = [event for _, event in read_event_lines(events)]
        wanted = _read_decisions(expected) if expected is not None else None
    except (EventLineError, ValueError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    if order == "time":
        recorded = in_event_time_order(recorded)

    decisions: list[Decision] = []
    verdicts: Counter[str] = Counter()
    alerts = 0
    with _sink(output) as sink:
        for result in Replayer(engine).run(recorded):
            if result.decision is not None:
                decisions.append(result.decision)
                verdicts[result.decision.verdict.value] += 1
                _write(sink, "decision", decision_document(result.decision))
            for alert in result.alerts:
                alerts += 1
                _write(sink, "alert", _alert_document(alert))
    summary = ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items()))
    err.print(
        f"replayed {len(recorded)} events: {len(decisions)} decisions ({summary or 'none'}), "
        f"{alerts} alerts; rules {engine.rules.version[:19]}, "
        f"policies {engine.policies.version[:19]}"
    )
    if wanted is None:
        return
    diffs = diff_decisions(wanted, decisions)
    if not diffs:
        err.print(f"OK: all {len(wanted)} expected decisions reproduced exactly")
        return
    for diff in diffs[:MAX_DIFFS_SHOWN]:
        err.print(f"DIFF: {diff.describe()}", markup=False)
    if len(diffs) > MAX_DIFFS_SHOWN:
        err.print(f"... and {len(diffs) - MAX_DIFFS_SHOWN} more")
    err.print(f"FAIL: {len(diffs)} of {len(wanted)} decisions differ")
    raise typer.Exit(EXIT_FAILED)


def _read_decisions(path: Path) -> list[Decision]:
    decisions = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
                if document.get("kind") != "decision":
                    continue
                record = {key: value for key, value in document.items() if key != "kind"}
                decisions.append(Decision.from_record(record))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}:{number}: not a decision line ({exc!r})") from None
    return decisions


def _alert_document(alert: Alert) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(alert.to_record(), default=str))
    return document


def _write(sink: TextIO, kind: str, document: dict[str, Any]) -> None:
    sink.write(json.dumps({"kind": kind, **document}, separators=(",", ":")) + "\n")


@contextmanager
def _sink(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        out.file.flush()
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8") as handle:
        yield handle
