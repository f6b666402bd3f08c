"""``riskseal replay``: run the risk engine in process over recorded events, diff its decisions."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from riskseal.audit.replay_trail import SealedStream, read_sealed_stream
from riskseal.audit.verify import Verifier
from riskseal.audit.verify_range import parse_bound
from riskseal.cli._common import (
    EXIT_ERROR,
    EXIT_FAILED,
    err,
    out,
    state,
    trail_source,
    verify_options,
)
from riskseal.cli._trail_options import (
    DEFAULT_MAX_CHECKPOINT_AGE_S,
    LocalCopyOption,
    MaxCheckpointAgeOption,
    TrustOption,
)
from riskseal.contract.events import Alert, Decision
from riskseal.errors import ConfigError, ExportStoppedError
from riskseal.risk.engine import RiskEngine
from riskseal.risk.replay import (
    Event,
    Replayer,
    decision_document,
    diff_decisions,
    in_event_time_order,
    read_event_lines,
)
from riskseal.sdk.jsonlines import EventLineError
from riskseal.settings import Settings

REPLAY_SOURCE = "riskseal-replay"
MAX_DIFFS_SHOWN = 20


def replay(
    ctx: typer.Context,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            exists=True,
            dir_okay=False,
            help="JSON lines of requests and actions (the `riskseal emit` / `generate` format).",
        ),
    ] = None,
    trail: Annotated[
        bool,
        typer.Option(
            "--trail",
            help="Replay the sealed trail in the bucket (read-only credentials) and diff "
            "against the sealed decisions.",
        ),
    ] = False,
    local: LocalCopyOption = None,
    trust: TrustOption = None,
    max_checkpoint_age: MaxCheckpointAgeOption = DEFAULT_MAX_CHECKPOINT_AGE_S,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Compare decisions from this event time (ISO); state is rebuilt "
            "from the start of the trail.",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Compare decisions up to this event time (ISO, inclusive)."),
    ] = None,
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
            help="For --events: `input`, the file's order, or `time`, sorted by event time "
            "(then source and seq; a worker's order while each topic holds its events in "
            "time order). The trail is replayed as a worker merges it: each topic in offset "
            "order, the two by event time."
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
    """Re-run the risk engine over recorded or sealed events and diff its decisions.

    Writes one JSON line per decision ({"kind": "decision", ...}) and per alert
    ({"kind": "alert", ...}). With --expected, or with --trail / --local (where the sealed
    decisions are expected), compares every decision field but the source stamp and exits 1
    on any difference, naming the request and the fields. The trail is verified block by
    block as it is read; a block that fails verification stops the replay, and so does a
    finding on the trail as a whole (a truncated tail, a checkpoint older than
    --max-checkpoint-age: raise it to replay a trail no sealer writes to any more): exit 1.

    Example:

        riskseal generate --users 50 --scenario mixed --output events.jsonl
        riskseal replay --events events.jsonl --output decisions.jsonl
        riskseal replay --events events.jsonl --expected decisions.jsonl
        riskseal replay --trail --trust sealer.vkey --from 2026-01-01 --to 2026-01-31 -o /dev/null
    """
    sources = sum((events is not None, trail, local is not None))
    if sources != 1:
        err.print("error: give exactly one of --events FILE, --trail or --local DIR")
        raise typer.Exit(EXIT_ERROR)
    if order not in ("input", "time"):
        err.print(f"error: --order must be `input` or `time`, got {order!r}")
        raise typer.Exit(EXIT_ERROR)
    settings = state(ctx).settings(risk_rules_dir=rules_dir, risk_policies_dir=policies_dir)
    engine = RiskEngine.load(settings, source_id=REPLAY_SOURCE)
    window = (_bound(from_, is_end=False), _bound(to, is_end=True))
    if (from_ or to) and events is not None and expected is None:
        err.print(
            "error: --from/--to choose the decisions compared with --expected; give "
            "--expected, or leave them out to replay the whole file"
        )
        raise typer.Exit(EXIT_ERROR)
    if window[0] is not None and window[1] is not None and window[0] > window[1]:
        err.print(f"error: --from {from_} is after --to {to}; give the earlier time first")
        raise typer.Exit(EXIT_ERROR)
    try:
        if events is not None:
            recorded = _read_events(events)
            if order == "time":
                recorded = in_event_time_order(recorded)
            wanted = _read_decisions(expected) if expected is not None else None
        else:
            sealed = _read_trail(settings, local, trust or [], max_checkpoint_age)
            recorded = sealed.events
            wanted = sealed.decisions
            if sealed.undecodable:
                err.print(f"NOTE: {sealed.undecodable} sealed records do not decode; not replayed")
            if sealed.ahead:
                err.print(
                    f"NOTE: {sealed.ahead} sealed events are stamped further ahead of their "
                    "Kafka record than risk_max_event_ahead_s; not replayed (a worker "
                    "dead-letters them)"
                )
            if sealed.misplaced:
                err.print(
                    f"NOTE: {sealed.misplaced} sealed events are on a topic not of their type "
                    "(a decision on the requests topic, say); not replayed, not compared (a "
                    "worker dead-letters them)"
                )
    except (EventLineError, ValueError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None

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
    windowed = window != (None, None)
    wanted = [d for d in wanted if _inside(d.time, window)]
    if windowed and not wanted:
        err.print(
            f"FAIL: nothing to compare: no expected decision lies between --from {from_ or '…'} "
            f"and --to {to or '…'}"
        )
        raise typer.Exit(EXIT_FAILED)
    diffs = diff_decisions(wanted, [d for d in decisions if _inside(d.time, window)])
    if not diffs:
        if not wanted:
            err.print("OK: no decision was expected, and the replay made none")
        else:
            err.print(f"OK: all {len(wanted)} expected decisions reproduced exactly")
        return
    for diff in diffs[:MAX_DIFFS_SHOWN]:
        err.print(f"DIFF: {diff.describe()}", markup=False)
    if len(diffs) > MAX_DIFFS_SHOWN:
        err.print(f"... and {len(diffs) - MAX_DIFFS_SHOWN} more")
    extra = sum(diff.expected is None for diff in diffs)
    err.print(
        f"FAIL: {len(diffs) - extra} of {len(wanted)} expected decisions differ or are "
        f"missing; {extra} more made by the replay alone"
    )
    raise typer.Exit(EXIT_FAILED)


def _read_trail(
    settings: Settings, local: Path | None, trust: list[Path], max_checkpoint_age_s: float
) -> SealedStream:
    source = trail_source(settings, local)
    options = replace(
        verify_options(settings, trust),
        max_checkpoint_age_s=max_checkpoint_age_s,
        topic_filter=(settings.topic_requests, settings.topic_actions, settings.topic_decisions),
        event_checks=False,
    )
    verifier = Verifier(source, options)
    try:
        sealed = read_sealed_stream(verifier, settings.risk_max_event_ahead_s)
    except ExportStoppedError as exc:
        err.print(f"FAIL: {exc}".replace("export stopped", "replay stopped"), markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    for note in verifier.report.notes:
        err.print(f"NOTE: {note}", markup=False)
    if not any(chain.blocks for chain in verifier.report.chains):
        raise ConfigError(
            f"nothing to replay: no sealed block of {', '.join(options.topic_filter)} under "
            f"{settings.s3_prefix!r}; check RISKSEAL_S3_PREFIX and the topic names "
            "(RISKSEAL_TOPIC_REQUESTS, RISKSEAL_TOPIC_ACTIONS, RISKSEAL_TOPIC_DECISIONS)"
        )
    return sealed


def _bound(text: str | None, *, is_end: bool) -> int | None:
    bound = parse_bound(text, chain_given=True, is_end=is_end)
    if bound is None:
        return None
    kind, value = bound
    if kind != "time":
        raise ConfigError(f"--from/--to of a replay are event times (ISO), not {text!r}")
    return value


def _inside(time_ms: int, window: tuple[int | None, int | None]) -> bool:
    low, high = window
    return (low is None or time_ms >= low) and (high is None or time_ms <= high)


def _read_events(path: Path) -> list[Event]:
    try:
        return [event for _, event in read_event_lines(path)]
    except OSError as exc:
        raise ConfigError(f"cannot read --events {path}: {exc.strerror or exc}") from None


def _read_decisions(path: Path) -> list[Decision]:
    try:
        return _decision_lines(path)
    except OSError as exc:
        raise ConfigError(f"cannot read --expected {path}: {exc.strerror or exc}") from None


def _decision_lines(path: Path) -> list[Decision]:
    decisions = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{path}:{number}: not valid UTF-8 at byte {exc.start}: {exc.reason}"
                ) from None
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
    try:
        handle = output.open("w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write --output {output}: {exc.strerror or exc}; give a path in a "
            "writable, existing folder"
        ) from None
    with handle:
        yield handle
