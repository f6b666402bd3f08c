"""The detection summary: alerts on the generated traffic against its ground truth."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from riskseal.contract.events import Alert
from riskseal.generator import GeneratedEvent
from riskseal.risk.evaluation import Quality, measure


def show_detection(
    console: Console, events: Iterable[GeneratedEvent], alerts: Iterable[Alert]
) -> Quality:
    """Print alerts per attack kind against the injected attacks; return the measurement."""
    quality = measure(events, alerts)
    table = Table(
        "attack kind", "injected", "detected", "alerts on victims", "on the attack",
        title="alerts vs the generator's ground truth",
    )  # fmt: skip
    for kind in quality.kinds:
        style = "green" if kind.detected == kind.instances else "red"
        table.add_row(
            kind.kind, str(kind.instances), f"[{style}]{kind.detected}[/{style}]",
            str(kind.alerts), str(kind.hits),
        )  # fmt: skip
    console.print(table)
    missed = [kind.kind for kind in quality.kinds if kind.detected < kind.instances]
    if missed:
        console.print(f"[red]MISSED[/red] some attacks of: {', '.join(missed)}")
    else:
        console.print("[green]OK[/green] every injected attack raised at least one alert")
    if quality.normal_users:
        console.print(
            f"normal users alerted: {quality.alerted_normal_users} of {quality.normal_users} "
            f"({quality.false_positive_rate:.0%})"
        )
    else:
        console.print("normal users alerted: none left unattacked (a password spray touches many)")
    return quality
