"""``run_demo``: the steps of the demo, in order, on a throw-away local stack."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from rich.console import Console
from rich.live import Live

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import Alert, Decision
from riskseal.demo.application import AppRun, run_application
from riskseal.demo.detection import show_detection
from riskseal.demo.live import LiveFeed
from riskseal.demo.objectlock import show_object_lock
from riskseal.demo.reading import CommittedOffsets, TopicReader
from riskseal.demo.report import DemoFailed, DemoReport
from riskseal.demo.sealing import catch_tampered_copy, seal, verify_bucket
from riskseal.demo.traffic import Publisher, Traffic, TrafficPlan
from riskseal.demo.workers import WorkerPool
from riskseal.kafka import consume_values
from riskseal.settings import Settings
from riskseal.stack.local import LocalStack, StackEndpoints
from riskseal.stack.ports import find_free_ports
from riskseal.stack.provision import ensure_topics

DEMO_TOPIC = "demo.events"
CODEC = EventCodec()


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How big the demo is and how long its steps may take."""

    traffic: TrafficPlan = field(default_factory=TrafficPlan)
    workers: int = 2
    worker_store: Literal["memory", "rocksdb"] = "memory"
    ready_timeout_s: float = 90.0
    processing_timeout_s: float = 120.0


def ip_failures_topic_name(settings: Settings) -> str:
    """The workers' internal topic of refused sign-ins by address.

    Mirrors ``riskseal.risk.topics.ip_failures_topic``, which is not imported here because
    it pulls Faust into the demo's process (a test keeps the two equal).
    """
    return f"{settings.risk_app_id}-auth-failures-by-ip"


def run_demo(
    console: Console, base_settings: Settings, options: DemoOptions | None = None
) -> DemoReport:
    """Start a stack and risk workers in a temporary directory, show each guarantee, stop all."""
    options = options or DemoOptions()
    with tempfile.TemporaryDirectory(prefix="riskseal-demo-") as tmp:
        workdir = Path(tmp)
        settings = base_settings.model_copy(update={"data_dir": workdir, "profile": "local"})
        stack = LocalStack(settings, ports=find_free_ports(settings.stack_host))
        console.rule("[bold]riskseal demo")
        console.print(f"starting the local real stack in {tmp} …")
        started = time.monotonic()
        endpoints = stack.up()
        try:
            console.print(
                f"[green]OK[/green] broker {endpoints.kafka_bootstrap} "
                f"(cluster {endpoints.kafka_cluster_id}), S3 {endpoints.s3_endpoint}, "
                f"up in {time.monotonic() - started:.1f} s"
            )
            report = _tour(console, endpoints, stack, workdir, options)
        finally:
            stopped = stack.down(wipe=True)
            console.print(f"stopped {', '.join(stopped)}; removed {tmp}")
        console.rule("[bold green]demo finished")
        return report


def _tour(
    console: Console,
    endpoints: StackEndpoints,
    stack: LocalStack,
    workdir: Path,
    options: DemoOptions,
) -> DemoReport:
    settings = endpoints.settings(
        seal_max_age_s=0.3,
        checkpoint_interval_s=1.0,
        risk_app_id=f"riskseal-demo-{uuid.uuid4().hex[:8]}",
        risk_commit_interval_s=0.5,
        risk_data_dir=workdir / "risk",
    )
    traffic = Traffic.generate(options.traffic)
    pool = WorkerPool(settings, workdir, options.workers, options.worker_store)
    with pool:  # the workers join while the Kafka round trip runs; stopped on any exit
        _kafka_round_trip(console, endpoints)
        console.rule(f"Risk processor: {options.workers} real workers (riskseal risk worker)")
        owned = pool.wait_ready(options.ready_timeout_s)
        for worker in pool.workers:
            console.print(
                f"[green]READY[/green] {worker.name} pid {worker.pid}, web 127.0.0.1:"
                f"{worker.web_port}, {options.worker_store} store, request partitions "
                f"{owned[worker.name]}"
            )
        console.rule("Application: authorize() answered by the workers, bad input refused")
        app = run_application(console, settings)
        versions = next(iter(app.decisions.values())).versions
        console.print(
            f"decided by engine {versions.engine}, rules {versions.rules}, "
            f"policies {versions.policies}"
        )
        feed = _live_traffic(console, settings, pool, traffic, app, options)
    console.rule("Detection")
    quality = show_detection(console, traffic.events, feed.alerts)
    console.rule("Sealer: every record into signed, hash-linked blocks, written once to S3")
    sealed = seal(console, settings, workdir, feed.audit_records)
    console.rule("Verification from the bucket, then a tampered copy")
    verified = verify_bucket(console, settings, sealed)
    tampered = catch_tampered_copy(console, settings, sealed, workdir)
    console.rule("S3 Object Lock: a sealed object cannot be removed, overwritten or shortened")
    show_object_lock(console, endpoints, stack.admin_s3_client())
    return DemoReport(
        app_decisions=app.decisions,
        decisions=feed.decisions,
        alerts=tuple(feed.alerts),
        quality=quality,
        dead_letters=feed.dead_letters,
        risk_app_id=settings.risk_app_id,
        worker_pids=pool.pids,
        sealed_records=sealed.records,
        verified_records=sum(chain.records for chain in verified.chains),
        verify_findings=tuple(verified.findings),
        tamper_findings=tuple(tampered.findings),
    )


@dataclass
class _Watched:
    """What the live step read, for the steps after it."""

    decisions: dict[str, Decision]
    alerts: list[Alert]
    dead_letters: int
    audit_records: int
    """Records on the sealed topics: requests, actions, decisions, dead letters."""


def _live_traffic(
    console: Console,
    settings: Settings,
    pool: WorkerPool,
    traffic: Traffic,
    app: AppRun,
    options: DemoOptions,
) -> _Watched:
    plan = options.traffic
    attacks = ", ".join(f"{kind} {n}" for kind, n in sorted(traffic.attacks().items()))
    console.rule(
        f"Generated traffic: {traffic.users} users, {plan.sim_days:g} simulated day(s), "
        f"{sum(traffic.attacks().values())} injected attacks"
    )
    console.print(
        f"{len(traffic.events)} events ({traffic.requests} requests, {traffic.actions} actions), "
        f"seed {plan.seed}, published over ~{plan.seconds:g} s; attacks: {attacks}"
    )
    feed = LiveFeed(console, traffic.events, len(traffic.events))
    decisions = TopicReader(settings, settings.topic_decisions, settings.partitions_decisions)
    alerts = TopicReader(settings, settings.topic_alerts, settings.partitions_alerts)
    publisher = Publisher(settings, traffic, plan.seconds)
    watcher = _Completion(settings, traffic, app)
    try:
        with Live(feed.panel(), console=console, refresh_per_second=4, transient=True) as live:
            publisher.start()
            deadline = time.monotonic() + plan.seconds + options.processing_timeout_s
            while True:
                _drain(feed, decisions, alerts)
                feed.published = publisher.published
                live.update(feed.panel())
                if publisher.done.is_set():
                    if publisher.error is not None:
                        raise DemoFailed(f"publishing the traffic failed: {publisher.error}")
                    if watcher.processed():
                        break
                pool.check_alive()
                if time.monotonic() > deadline:
                    raise DemoFailed(f"traffic not processed in time: {watcher.describe()}")
            codes = pool.stop()  # nothing is written to the output topics any more
            decisions.read_until(lambda r: r.at_end, 30, "the end of the decisions")
            _drain_until_end(feed, decisions, alerts)
        console.print(feed.panel())
        console.print(
            f"[green]OK[/green] every event processed (offsets committed by the workers); "
            f"risk workers stopped, exit codes {codes}"
        )
        dead = TopicReader(settings, settings.topic_deadletter, settings.partitions_deadletter)
        try:
            dead.read_until(lambda r: r.at_end and r.count >= 1, 30, "the dead letter")
            feed.dead_letters = dead.count
        finally:
            dead.close()
    finally:
        publisher.join(10)
        watcher.close()
        decisions.close()
        alerts.close()
    requested = {g.event.event_id for g in traffic.events if g.kind == "request"} | {
        d.request_id for d in app.decisions.values()
    }
    undecided = requested - set(feed.decisions)
    if undecided:
        raise DemoFailed(f"{len(undecided)} requests without a decision, e.g. {min(undecided)}")
    if any(decision.fallback for decision in feed.decisions.values()):
        raise DemoFailed("a decision on the topic is marked as a fallback")
    rules = Counter(decision.versions.rules for decision in feed.decisions.values())
    console.print(
        f"[green]OK[/green] {len(feed.decisions)} requests, each with exactly one decision "
        f"({feed.repeated} redelivered copies), all from rules {', '.join(rules)}; "
        f"{len(feed.alerts)} SOC alerts; {feed.dead_letters} dead letter(s) with coordinates"
    )
    audit = watcher.requests_total + watcher.actions_total + decisions.count + feed.dead_letters
    return _Watched(feed.decisions, feed.alerts, feed.dead_letters, audit)


def _drain(feed: LiveFeed, decisions: TopicReader, alerts: TopicReader) -> None:
    for message in decisions.poll(0.05):
        event = _decode(message)
        if not isinstance(event, Decision):
            raise DemoFailed(f"a record on {decisions.topic} is not a decision: {event!r}")
        feed.on_decision(event)
    for message in alerts.poll(0.05):
        event = _decode(message)
        if not isinstance(event, Alert):
            raise DemoFailed(f"a record on {alerts.topic} is not an alert: {event!r}")
        feed.on_alert(event)


def _drain_until_end(feed: LiveFeed, decisions: TopicReader, alerts: TopicReader) -> None:
    deadline = time.monotonic() + 30
    while not (decisions.at_end and alerts.at_end):
        if time.monotonic() > deadline:
            raise DemoFailed("the decisions and alerts topics did not reach their end in 30 s")
        _drain(feed, decisions, alerts)


def _decode(message: Message) -> object:
    value = message.value()
    if value is None:
        raise DemoFailed(f"an empty record on {message.topic()}")
    return typed_event(CODEC.decode(value))


class _Completion:
    """Decides when the workers have processed everything: counts and committed offsets.

    The inputs are read to their end, counting (so the demo knows every partition's last
    offset); then the workers' consumer group must have committed past those offsets. Faust
    flushes what it produced before it commits, so by then every decision, alert and
    forwarded sign-in failure is on the broker. The internal per-address topic is waited for
    the same way, after the actions.
    """

    CHECK_EVERY_S = 0.3

    def __init__(self, settings: Settings, traffic: Traffic, app: AppRun) -> None:
        self.settings = settings
        self.requests_total = traffic.requests + app.requests
        self.actions_total = traffic.actions + app.actions
        self.ip_expected = traffic.failed_sign_ins_with_address + app.failed_sign_ins
        self._committed = CommittedOffsets(settings, settings.risk_app_id)
        self._inputs: dict[str, dict[int, int]] | None = None
        self._ip_ends: dict[int, int] | None = None
        self._next_check = 0.0
        self._stage = "publishing"

    def describe(self) -> str:
        """Where the wait is."""
        return self._stage

    def processed(self) -> bool:
        """True once every input record, and every forwarded failure, is committed."""
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + self.CHECK_EVERY_S
        settings = self.settings
        if self._inputs is None:
            self._stage = "reading the inputs back"
            self._inputs = {
                settings.topic_requests: self._ends(settings.topic_requests, self.requests_total),
                settings.topic_actions: self._ends(settings.topic_actions, self.actions_total),
            }
        self._stage = "workers committing the requests and actions"
        if not all(self._committed.reached(t, ends) for t, ends in self._inputs.items()):
            return False
        topic = ip_failures_topic_name(settings)
        if self._ip_ends is None:
            self._stage = "reading the sign-in failures forwarded by address"
            self._ip_ends = self._ends(topic, self.ip_expected, exact=False)
        self._stage = "workers committing the sign-in failures by address"
        return self._committed.reached(topic, self._ip_ends)

    def _ends(self, topic: str, expected: int, *, exact: bool = True) -> dict[int, int]:
        reader = TopicReader(self.settings, topic, self.settings.partitions_access)
        try:
            reader.read_until(lambda r: r.at_end and r.count >= expected, 30, f"{expected} records")
        finally:
            reader.close()
        if exact and reader.count != expected:
            raise DemoFailed(f"{topic} holds {reader.count} records, the demo sent {expected}")
        return dict(reader.next_offsets)

    def close(self) -> None:
        """Close the offsets lookup."""
        self._committed.close()


def _kafka_round_trip(console: Console, endpoints: StackEndpoints) -> None:
    console.rule("Kafka: a topic created explicitly, events written and read back")
    ensure_topics(endpoints.kafka_bootstrap, {DEMO_TOPIC: 3}, replication_factor=1)
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap, "acks": "all"})
    sent = [f"event {i} {uuid.uuid4()}".encode() for i in range(6)]
    for i, value in enumerate(sent):
        producer.produce(DEMO_TOPIC, value=value, partition=i % 3)
    if producer.flush(10) != 0:
        raise DemoFailed("the broker did not acknowledge every event")
    consumer = Consumer(
        {"bootstrap.servers": endpoints.kafka_bootstrap, "group.id": f"demo-{uuid.uuid4()}",
         "enable.auto.commit": False}
    )  # fmt: skip
    consumer.assign([TopicPartition(DEMO_TOPIC, p, 0) for p in range(3)])
    received = consume_values(consumer, lambda values: len(values) >= len(sent), timeout_s=20)
    consumer.close()
    if sorted(received) != sorted(sent):
        raise DemoFailed(f"read back {len(received)} of {len(sent)} events")
    console.print(f"[green]OK[/green] {len(sent)} events on {DEMO_TOPIC} (3 partitions) read back")
