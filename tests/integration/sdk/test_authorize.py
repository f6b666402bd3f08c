"""authorize(): the round trip through risk.decisions, the fallback, and many at once."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

from riskseal.contract import Actor, Resource, Verdict
from riskseal.sdk import AsyncAuditClient, AuditClient
from riskseal.sdk.responder import StaticResponder
from tests.integration.conftest import RealStack


def test_authorize_returns_the_decision_for_its_request(
    real_stack: RealStack, responder: StaticResponder
) -> None:
    with AuditClient(real_stack.settings) as client:
        decision = client.authorize(
            Actor("alice", roles=("analyst",)), "data.read", Resource("doc", "step-q3"), timeout=15
        )
    assert decision.fallback is False
    assert decision.verdict is Verdict.STEP_UP
    assert decision.user_id == "alice"
    assert decision.versions.engine == "static-responder"
    assert decision.source.source_id == StaticResponder.SOURCE_ID


def test_authorize_times_out_to_deny_by_default(real_stack: RealStack) -> None:
    with AuditClient(real_stack.settings) as client:
        decision = client.authorize(Actor("bob"), "data.read", Resource("doc", "d"), timeout=0.5)
        failures = client.flush()
    assert decision.fallback is True
    assert decision.verdict is Verdict.DENY
    assert decision.reasons[0].code == "decision_timeout"
    assert failures == []  # the request itself was delivered


def test_authorize_fail_open_fallback_when_configured(real_stack: RealStack) -> None:
    settings = real_stack.settings.model_copy(update={"authorize_fallback": "allow"})
    with AuditClient(settings) as client:
        decision = client.authorize(Actor("bob"), "data.read", Resource("doc", "d"), timeout=0.3)
    assert decision.fallback is True
    assert decision.verdict is Verdict.ALLOW
    assert decision.reasons[0].threshold == "fallback=allow"


def test_thousand_concurrent_async_calls_each_get_their_own_decision(
    real_stack: RealStack, responder: StaticResponder
) -> None:
    rng = random.Random(7)
    prefixes = [rng.choice(["deny-", "step-", "ok-"]) for _ in range(1000)]
    expected = {"deny-": Verdict.DENY, "step-": Verdict.STEP_UP, "ok-": Verdict.ALLOW}

    async def run() -> list[tuple[str, str, Verdict, bool]]:
        async with AsyncAuditClient(real_stack.settings) as client:

            async def one(i: int) -> tuple[str, str, Verdict, bool]:
                event_id = f"00000000-0000-4000-8000-{i:012d}"
                decision = await client.authorize(
                    Actor(f"user-{i % 50}"),
                    "data.read",
                    Resource("doc", f"{prefixes[i]}{i}"),
                    timeout=30,
                    event_id=event_id,
                )
                return event_id, decision.request_id, decision.verdict, decision.fallback

            return await asyncio.gather(*(one(i) for i in range(1000)))

    results = asyncio.run(run())
    assert [fallback for *_, fallback in results].count(True) == 0
    assert all(sent == answered for sent, answered, _, _ in results)
    assert [verdict for _, _, verdict, _ in results] == [expected[p] for p in prefixes]


def test_concurrent_threads_each_get_their_own_decision(
    real_stack: RealStack, responder: StaticResponder
) -> None:
    with AuditClient(real_stack.settings) as client:

        def one(i: int) -> tuple[str, Verdict, bool]:
            decision = client.authorize(Actor(f"t{i}"), "data.read", Resource("doc", f"deny-{i}"))
            return decision.user_id, decision.verdict, decision.fallback

        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(one, range(200)))
    assert results == [(f"t{i}", Verdict.DENY, False) for i in range(200)]
