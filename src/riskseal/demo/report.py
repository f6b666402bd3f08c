"""What a demo run shows, kept for the caller (tests read it), and how a step fails."""

from __future__ import annotations

from dataclasses import dataclass

from riskseal.audit.report import Finding
from riskseal.contract.events import Alert, Decision
from riskseal.risk.evaluation import Quality


class DemoFailed(AssertionError):
    """A step of the demo did not behave as the product promises."""


@dataclass(frozen=True, slots=True)
class DemoReport:
    """The facts behind what the demo printed."""

    app_decisions: dict[str, Decision]
    """The decisions the demo application asked for, by what it asked."""
    decisions: dict[str, Decision]
    """Every decision read from the decisions topic, by request id."""
    alerts: tuple[Alert, ...]
    """Every alert read from the alerts topic."""
    quality: Quality
    """Alerts on the generated traffic against its ground truth."""
    dead_letters: int
    """Records the workers sent to the dead-letter topic."""
    risk_app_id: str
    """App id (consumer group, source id prefix) of the demo's risk workers."""
    worker_pids: tuple[int, ...]
    """Process ids of the risk workers the demo started (all stopped when it returns)."""
    sealed_records: int
    verified_records: int
    verify_findings: tuple[Finding, ...]
    """Findings of the bucket's verification (the demo fails unless there are none)."""
    tamper_findings: tuple[Finding, ...]
    """Findings of the tampered copy's verification."""
