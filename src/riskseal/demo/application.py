"""The demo's application: a few ``authorize()`` calls that show each verdict, and bad input.

Every call goes through the producer SDK to the real risk workers and waits for their
decision: an ordinary read is allowed, restricted data from a new laptop needs a step-up
(and passes after MFA), a request after a burst of refused sign-ins is denied by its risk,
and a user granting themself a role is denied by a hard rule. Bad input is refused by the
SDK before it reaches Kafka; bytes that are not an event at all, written past the SDK, end
up on the dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import Producer
from rich.console import Console
from rich.markup import escape

from riskseal.contract import Actor, AuthContext, Endpoint, Location, Outcome, Resource
from riskseal.contract.events import Decision, Sensitivity, Verdict
from riskseal.demo.reading import wait_until_processed
from riskseal.demo.report import DemoFailed
from riskseal.errors import InvalidEventError
from riskseal.sdk import AuditClient
from riskseal.settings import Settings

AUTHORIZE_TIMEOUT_S = 20.0
VERDICT_STYLE = {Verdict.ALLOW: "green", Verdict.STEP_UP: "yellow", Verdict.DENY: "red"}
GARBAGE = b"\x00\x01 not an event at all"

OFFICE = Endpoint("198.51.100.7", Location(country="DE", city="Berlin", lat=52.52, lon=13.40))
ABROAD = Endpoint("203.0.113.66", Location(country="BR", city="Sao Paulo", lat=-23.55, lon=-46.63))


@dataclass
class AppRun:
    """What the application sent and got back."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    requests: int = 0
    """Records written to the requests topic (garbage included)."""
    actions: int = 0
    failed_sign_ins: int = 0
    """Refused sign-ins with a source address (the workers forward them by address)."""


def run_application(console: Console, settings: Settings) -> AppRun:
    """Ask for decisions, show each with its reasons and policies, and send bad input."""
    run = AppRun()
    alice = Actor("alice", roles=("sales",), groups=("sales",))
    bob = Actor("bob", roles=("finance",), groups=("finance",))
    dave = Actor("dave", roles=("engineering",), groups=("engineering",))
    erin = Actor("erin", roles=("engineering",), groups=("engineering",))
    payroll = Resource(
        "report", "payroll-2025", owner="finance", sensitivity=Sensitivity.RESTRICTED
    )
    with AuditClient(settings) as client:

        def ask(
            label: str, actor: Actor, action: str, resource: Resource, **fields: object
        ) -> None:
            decision = client.authorize(
                actor, action, resource, timeout=AUTHORIZE_TIMEOUT_S, **fields
            )
            run.requests += 1
            if decision.fallback:
                raise DemoFailed(f"no decision for {label!r} within {AUTHORIZE_TIMEOUT_S:g} s")
            run.decisions[label] = decision
            console.print(f"  {escape(label)}")
            console.print(f"    → {describe_decision(decision)}")

        ask(
            "alice reads the team handbook",
            alice,
            "data.read",
            Resource("document", "team-handbook"),
            src_endpoint=OFFICE,
            device_id="laptop-alice",
        )
        ask(
            "bob reads the payroll report on a new laptop",
            bob,
            "data.read",
            payroll,
            src_endpoint=OFFICE,
            device_id="laptop-bob-new",
        )
        mfa_at = client.emit_action(
            bob,
            "auth.mfa",
            Resource("app", "sso"),
            Outcome.SUCCESS,
            src_endpoint=OFFICE,
            device_id="laptop-bob-new",
            auth=AuthContext(is_mfa=True),
        ).time
        run.actions += 1
        _processed(client, settings, run)
        ask(
            "bob reads it again, after MFA",
            bob,
            "data.read",
            payroll,
            src_endpoint=OFFICE,
            device_id="laptop-bob-new",
            auth=AuthContext(is_mfa=True, mfa_time=mfa_at),
        )
        for _ in range(10):
            client.emit_action(
                dave,
                "auth.login",
                Resource("app", "sso"),
                Outcome.FAILURE,
                src_endpoint=ABROAD,
                status_detail="bad password",
            )
            run.actions += 1
            run.failed_sign_ins += 1
        _processed(client, settings, run)
        ask(
            "dave opens a design doc after 10 refused sign-ins",
            dave,
            "data.read",
            Resource("document", "design-doc"),
            src_endpoint=ABROAD,
        )
        ask(
            "erin grants herself the admin role",
            erin,
            "role.grant",
            Resource("role", "admin"),
            src_endpoint=OFFICE,
            attributes={"grantee": "erin"},
        )
        try:
            client.request_access(
                "mallory",
                "data.read",
                Resource("document", "x"),
                src_endpoint=Endpoint("999.1.1.1"),
            )
        except InvalidEventError as exc:
            console.print(f"  [green]REFUSED[/green] before reaching Kafka: {escape(str(exc))}")
        else:
            raise DemoFailed("the SDK accepted an event with the address 999.1.1.1")
        if client.flush():
            raise DemoFailed("the broker did not acknowledge every event of the application")
    _send_garbage(settings)
    run.requests += 1
    console.print(
        f"  [yellow]SENT[/yellow] {len(GARBAGE)} bytes that are not an event, past the SDK, to "
        f"{settings.topic_requests}: the workers dead-letter them, the sealer seals them raw"
    )  # fmt: skip
    return run


def _processed(client: AuditClient, settings: Settings, run: AppRun) -> None:
    """Wait until the workers have processed every action sent so far.

    Requests and actions are separate topics and streams: a request sent right after an
    action could be decided before that action is accounted for.
    """
    if client.flush():
        raise DemoFailed("the broker did not acknowledge every action of the application")
    wait_until_processed(
        settings, settings.topic_actions, settings.partitions_access, run.actions, 30
    )


def _send_garbage(settings: Settings) -> None:
    producer = Producer({**settings.kafka_config(), "acks": "all"})
    producer.produce(settings.topic_requests, GARBAGE, key=b"mallory")
    if producer.flush(10) != 0:
        raise DemoFailed("the broker did not acknowledge the undecodable record")


def describe_decision(decision: Decision) -> str:
    """One line of rich markup: verdict, risk, reasons with points, deciding policies."""
    style = VERDICT_STYLE[decision.verdict]
    reasons = ", ".join(f"{r.value} (+{r.points})" for r in decision.reasons) or "none"
    policies = ", ".join(decision.policy_ids) or "none"
    return (
        f"[bold {style}]{decision.verdict}[/bold {style}] risk {decision.request_risk} "
        f"(user {decision.user_risk}, {decision.risk_level.value.lower()}) · reasons "
        f"{escape(reasons)} · policy {escape(policies)}"
    )
