"""The live view: decisions and SOC alerts as the demo reads them from their topics.

Alerts are printed one line each as they arrive (user, analytic, severity, risk, evidence,
and the ground truth of the event that triggered it); so are the first decisions of each
kind of non-allow reason. Below them a small panel counts verdicts, alerts and dead
letters. On a terminal the panel refreshes in place; elsewhere it is printed once, at the end.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from riskseal.contract.events import AccessRequest, Alert, Decision, Severity, Verdict
from riskseal.demo.application import describe_decision
from riskseal.generator import GeneratedEvent

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}
DECISIONS_SHOWN = 6
"""Interesting decisions printed: the first of each top reason among step-ups and denies."""


class LiveFeed:
    """Counts and prints what arrives on the decisions and alerts topics."""

    def __init__(self, console: Console, events: Iterable[GeneratedEvent], total: int) -> None:
        self.console = console
        self.total = total
        self.published = 0
        self.decisions: dict[str, Decision] = {}
        self.repeated = 0
        self.verdicts: Counter[Verdict] = Counter()
        self.alerts: list[Alert] = []
        self.severities: Counter[Severity] = Counter()
        self.dead_letters = 0
        self._events = {generated.event.event_id: generated for generated in events}
        self._shown_reasons: set[str] = set()
        self._started = time.monotonic()

    def on_decision(self, decision: Decision) -> None:
        """Count a decision; print it when it is the first with its top reason."""
        if decision.request_id in self.decisions:
            self.repeated += 1  # at-least-once: a redelivered request gets the same decision
            return
        self.decisions[decision.request_id] = decision
        self.verdicts[decision.verdict] += 1
        generated = self._events.get(decision.request_id)
        if generated is None or decision.verdict is Verdict.ALLOW or not decision.reasons:
            return
        request = generated.event
        if not isinstance(request, AccessRequest):
            return
        top = max(decision.reasons, key=lambda reason: reason.points).code
        if top in self._shown_reasons or len(self._shown_reasons) >= DECISIONS_SHOWN:
            return
        self._shown_reasons.add(top)
        self.console.print(
            f"  [dim]decision[/dim] {escape(request.actor.uid)} {escape(request.action)} "
            f"{escape(request.resource.type)}/{escape(request.resource.uid)} "
            f"[dim](truth: {escape(generated.truth)})[/dim]\n"
            f"    → {describe_decision(decision)}"
        )

    def on_alert(self, alert: Alert) -> None:
        """Count an alert and print it."""
        self.alerts.append(alert)
        self.severities[alert.severity] += 1
        style = SEVERITY_STYLE[alert.severity]
        trigger = next((e.event_id for e in alert.evidences if e.event_id), None)
        generated = self._events.get(trigger or "")
        if generated is not None:
            truth = f" [dim](truth: {escape(generated.truth)})[/dim]"
        else:
            truth = " [dim](demo application)[/dim]" if trigger else ""
        evidence = ", ".join(e.value or e.kind for e in alert.evidences) or "—"
        self.console.print(
            f"  [{style}]ALERT {alert.severity.value}[/{style}] risk {alert.risk_score} "
            f"{escape(alert.user_id)} [bold]{escape(alert.analytic.uid)}[/bold]: "
            f"{escape(evidence)}{truth}"
        )

    def panel(self) -> RenderableType:
        """The counters, as a small table."""
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_row(
            "generated events published", f"{self.published} / {self.total}",
            "elapsed", f"{time.monotonic() - self._started:.1f} s",
        )  # fmt: skip
        verdicts = ", ".join(
            f"{verdict} {self.verdicts[verdict]}"
            for verdict in (Verdict.ALLOW, Verdict.STEP_UP, Verdict.DENY)
        )
        table.add_row("decisions", f"{len(self.decisions)} ({verdicts})")
        severities = ", ".join(
            f"{severity.value.lower()} {count}" for severity, count in self.severities.items()
        )
        table.add_row(
            "SOC alerts", f"{len(self.alerts)}" + (f" ({severities})" if severities else "")
        )
        return Group(Text("live from risk.decisions and risk.alerts", style="bold"), table)
