"""Detection benchmark: precision and recall per attack kind, false positives on normal users.

Run with ``make bench-detection`` (or ``.venv/bin/python -m bench.detection``). The labelled
mixed scenario of ``riskseal generate`` (every attack kind, several seeds) runs through the
risk engine in process, exactly as ``riskseal replay`` does; a normal-only population
measures the false-positive rate on users nobody attacks. Targets (issue #6): recall ≥ 0.95
on every attack kind, ≤ 1% of normal users alerted. The in-process engine rate is printed
too (the worker benchmark measures it through Kafka).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from bench.common import machine
from riskseal.contract.events import Alert
from riskseal.generator import GeneratorConfig, generate_events
from riskseal.generator.config import resolve_scenarios
from riskseal.generator.model import GeneratedEvent
from riskseal.risk.engine import RiskEngine
from riskseal.risk.evaluation import KindQuality, Quality, measure
from riskseal.risk.replay import Replayer
from riskseal.settings import Settings

RECALL_TARGET = 0.95
FALSE_POSITIVE_TARGET = 0.01


def run_engine(events: Sequence[GeneratedEvent]) -> tuple[list[Alert], float]:
    """All alerts of ``events`` and the engine's rate in events/s."""
    replayer = Replayer(RiskEngine.load(Settings.local(), source_id="bench-detection"))
    alerts: list[Alert] = []
    started = time.perf_counter()
    for generated in events:
        alerts.extend(replayer.feed(generated.event).alerts)
    return alerts, len(events) / (time.perf_counter() - started)


def combine(runs: Sequence[Quality]) -> Quality:
    """Sum the counts of several runs."""
    kinds = tuple(
        KindQuality(
            kind=kind,
            instances=sum(run.kinds[i].instances for run in runs),
            detected=sum(run.kinds[i].detected for run in runs),
            alerts=sum(run.kinds[i].alerts for run in runs),
            hits=sum(run.kinds[i].hits for run in runs),
        )
        for i, kind in enumerate(kind.kind for kind in runs[0].kinds)
    )
    return Quality(
        kinds,
        sum(run.normal_users for run in runs),
        sum(run.alerted_normal_users for run in runs),
        sum(run.alerts for run in runs),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the detection table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200, help="users per mixed run (≥ 200)")
    parser.add_argument("--seeds", type=int, default=3, help="mixed runs with seeds 1..N")
    parser.add_argument("--days", type=float, default=3.0, help="simulated days per run")
    parser.add_argument("--normal-users", type=int, default=1_000, help="normal-only population")
    args = parser.parse_args(argv)

    console = Console()
    mixed: list[Quality] = []
    rates: list[float] = []
    events_total = 0
    for seed in range(1, args.seeds + 1):
        config = GeneratorConfig(
            seed=seed,
            users=args.users,
            sim_days=args.days,
            attacks=resolve_scenarios(["mixed"]),
            attack_fraction=0.1,
        )
        events = list(generate_events(config))
        alerts, engine_rate = run_engine(events)
        mixed.append(measure(events, alerts))
        rates.append(engine_rate)
        events_total += len(events)
    normal_events = list(
        generate_events(GeneratorConfig(seed=99, users=args.normal_users, sim_days=args.days))
    )
    normal_alerts, normal_rate = run_engine(normal_events)
    normal = measure(normal_events, normal_alerts)
    total = combine(mixed)

    table = Table(title=f"Detection quality — {machine()}")
    for column in ("attack kind", "instances", "detected", "recall", "precision", "target"):
        table.add_column(column, justify="left" if column == "attack kind" else "right")
    for kind in total.kinds:
        ok = "ok" if kind.recall >= RECALL_TARGET else "MISSED"
        table.add_row(
            kind.kind,
            str(kind.instances),
            str(kind.detected),
            f"{kind.recall:.2f}",
            f"{kind.precision:.2f}",
            f"recall ≥ {RECALL_TARGET} {ok}",
        )
    console.print(table)
    fp_ok = "ok" if normal.false_positive_rate <= FALSE_POSITIVE_TARGET else "OVER"
    console.print(
        f"normal users alerted: {normal.alerted_normal_users} of {normal.normal_users} "
        f"({normal.false_positive_rate:.2%}, target ≤ {FALSE_POSITIVE_TARGET:.0%} {fp_ok}) in a "
        f"normal-only population; {total.alerted_normal_users} of {total.normal_users} "
        "unattacked users in the mixed runs"
    )
    console.print(
        f"mixed runs: {args.seeds} seeds x {args.users} users x {args.days:g} days = "
        f"{events_total:,} events, {total.alerts} alerts; in-process engine "
        f"{min(rates):,.0f}-{max(rates):,.0f} events/s (normal run {normal_rate:,.0f})"
    )


if __name__ == "__main__":
    main()
