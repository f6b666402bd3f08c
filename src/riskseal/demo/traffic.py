"""Generated office traffic with injected attacks, published as ``riskseal generate`` does.

The events come from :mod:`riskseal.generator` (seeded, labelled, every attack kind of the
mixed scenario) and go out through one ``AuditClient`` at a steady rate, so the decisions and
alerts can be watched while they arrive. The ground truth travels in Kafka headers only.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from riskseal.contract.events import AccessAction
from riskseal.generator import AttackKind, GeneratedEvent, GeneratorConfig, RunLimits, simulate
from riskseal.generator.publisher import client_sink
from riskseal.generator.runner import drive
from riskseal.risk.features import is_failed_login
from riskseal.sdk import AuditClient
from riskseal.settings import Settings


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    """Which traffic the demo publishes, and how fast."""

    users: int = 50
    seed: int = 2
    attack_fraction: float = 0.3
    sim_days: float = 1.0
    seconds: float = 8.0
    """Wall-clock time over which the events are spread."""

    def config(self) -> GeneratorConfig:
        """The generator configuration: the mixed scenario, every attack kind."""
        return GeneratorConfig(
            seed=self.seed,
            users=self.users,
            sim_days=self.sim_days,
            attacks=frozenset(AttackKind),
            attack_fraction=self.attack_fraction,
        )


@dataclass(frozen=True, slots=True)
class Traffic:
    """The generated events and what they add up to."""

    events: tuple[GeneratedEvent, ...]

    @classmethod
    def generate(cls, plan: TrafficPlan) -> Traffic:
        """The plan's events, in the generator's time order."""
        return cls(tuple(simulate(plan.config()).events()))

    @property
    def requests(self) -> int:
        """Access requests among the events."""
        return sum(1 for generated in self.events if generated.kind == "request")

    @property
    def actions(self) -> int:
        """User actions among the events."""
        return len(self.events) - self.requests

    @property
    def failed_sign_ins_with_address(self) -> int:
        """Refused sign-ins with a source address: what the workers forward per address."""
        return sum(
            1
            for generated in self.events
            if isinstance(generated.event, AccessAction)
            and is_failed_login(generated.event)
            and generated.event.src_endpoint.ip is not None
        )

    @property
    def users(self) -> int:
        """Distinct users."""
        return len({generated.user_id for generated in self.events})

    def attacks(self) -> Counter[str]:
        """Attack instances per kind (the ground truth)."""
        instances = {(g.truth, g.attack_id) for g in self.events if g.attack_id is not None}
        return Counter(kind for kind, _ in instances)

    def truth_of(self) -> dict[str, str]:
        """The ground-truth label of each event id."""
        return {generated.event.event_id: generated.truth for generated in self.events}


@dataclass
class Publisher:
    """Publishes the traffic on a background thread; ``error`` holds what stopped it."""

    settings: Settings
    traffic: Traffic
    seconds: float
    published: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start publishing."""
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        """Wait for the thread to end."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            rate = max(len(self.traffic.events) / self.seconds, 1.0)
            client = AuditClient(self.settings.model_copy(update={"sdk_on_buffer_full": "block"}))
            try:
                sink = client_sink(client)

                def send(generated: GeneratedEvent) -> None:
                    sink(generated)
                    self.published += 1

                drive(self.traffic.events, send, RunLimits(rate=rate))
            finally:
                failures = client.close()
            if failures:
                raise RuntimeError(
                    f"{len(failures)} generated events not delivered, e.g. {failures[0].reason}"
                )
        except BaseException as exc:  # handed to the main thread, which raises DemoFailed
            self.error = exc
        finally:
            self.done.set()
