"""SDK benchmark: publishing throughput against raw produce, and authorize() round trips.

Run with ``make bench-sdk`` (or ``.venv/bin/python -m bench.sdk``). The baseline is the same
idempotent ``acks=all`` confluent-kafka producer writing the same bytes, already encoded.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from confluent_kafka import Producer

from bench.common import Row, local_stack, percentile, print_table, rate
from riskseal.contract import (
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    EventCodec,
    Location,
    Resource,
    Sensitivity,
    SourceStamp,
)
from riskseal.contract.events import new_event_id
from riskseal.contract.fastpath import FastEncoder
from riskseal.sdk import AsyncAuditClient, AuditClient
from riskseal.sdk.responder import StaticResponder
from riskseal.settings import Settings

USERS = [Actor(f"user-{i}", roles=("sales",), groups=("emea",)) for i in range(200)]
RESOURCE = Resource("document", "forecast-q3", owner="user-7", sensitivity=Sensitivity.CONFIDENTIAL)
ENDPOINT = Endpoint("203.0.113.7", Location(country="DE", city="Berlin", lat=52.52, lon=13.4))
AUTH = AuthContext(is_mfa=True, auth_protocol="webauthn")


def raw_produce(settings: Settings, payloads: list[tuple[bytes, bytes]]) -> float:
    """Produce pre-encoded payloads with the SDK's producer settings; events/s."""
    producer = Producer(
        {**settings.kafka_config(), "acks": "all", "enable.idempotence": True, "linger.ms": 5,
         "queue.buffering.max.messages": settings.sdk_buffer_max_messages}
    )  # fmt: skip
    started = time.perf_counter()
    for key, value in payloads:
        while True:
            try:
                producer.produce(settings.topic_requests, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} raw messages not delivered"
    return rate(len(payloads), started)


def sdk_publish(settings: Settings, count: int) -> float:
    """Validate, encode and produce ``count`` requests through AuditClient; events/s."""
    with AuditClient(settings.model_copy(update={"sdk_on_buffer_full": "block"})) as client:
        started = time.perf_counter()
        for i in range(count):
            client.request_access(
                USERS[i % len(USERS)], "data.read", RESOURCE,
                src_endpoint=ENDPOINT, auth=AUTH, session_id="s-1", device_id="laptop-1",
            )  # fmt: skip
        failures = client.flush(60)
        result = rate(count, started)
    assert not failures, f"{len(failures)} SDK events not delivered"
    return result


def encode_only(count: int, fast: bool) -> float:
    """Validation + encoding alone, no Kafka, with the SDK's fast encoder or the generic
    codec; events/s."""
    codec = EventCodec()
    encoder = FastEncoder("b", 1, codec.max_event_bytes)
    started = time.perf_counter()
    for i in range(count):
        request = AccessRequest(
            event_id=new_event_id(), time=1_800_000_000_000, source=SourceStamp("b", 1, i),
            actor=USERS[i % len(USERS)], action="data.read", resource=RESOURCE,
            src_endpoint=ENDPOINT, auth=AUTH, session_id="s-1", device_id="laptop-1",
        )  # fmt: skip
        if fast:
            encoder.encode_request(request, trusted_id=True).with_seq(i)
        else:
            codec.encode_event(request)
    return rate(count, started)


def pre_encoded(count: int) -> list[tuple[bytes, bytes]]:
    """The payloads the raw baseline sends: the same events, encoded beforehand."""
    codec = EventCodec()
    payloads = []
    for i in range(count):
        request = AccessRequest(
            event_id=new_event_id(), time=1_800_000_000_000, source=SourceStamp("b", 1, i),
            actor=USERS[i % len(USERS)], action="data.read", resource=RESOURCE,
            src_endpoint=ENDPOINT, auth=AUTH, session_id="s-1", device_id="laptop-1",
        )  # fmt: skip
        payloads.append((request.actor.uid.encode(), codec.encode_event(request)))
    return payloads


def authorize_latency(settings: Settings, calls: int) -> list[float]:
    """Sequential authorize() round trips against the static responder; ms each."""
    samples = []
    with AuditClient(settings) as client:
        client.authorize(USERS[0], "data.read", RESOURCE, timeout=30)  # warm-up
        for i in range(calls):
            started = time.perf_counter()
            decision = client.authorize(USERS[i % len(USERS)], "data.read", RESOURCE, timeout=5)
            samples.append((time.perf_counter() - started) * 1000)
            assert not decision.fallback, "authorize fell back during the benchmark"
    return samples


def authorize_concurrent(settings: Settings, calls: int) -> tuple[float, list[float]]:
    """``calls`` concurrent async authorize() calls; (decisions/s, latencies in ms)."""

    async def run() -> tuple[float, list[float]]:
        async with AsyncAuditClient(settings) as client:
            await client.authorize(USERS[0], "data.read", RESOURCE, timeout=30)

            async def one(i: int) -> float:
                started = time.perf_counter()
                decision = await client.authorize(USERS[i % 200], "data.read", RESOURCE, timeout=30)
                assert not decision.fallback
                return (time.perf_counter() - started) * 1000

            started = time.perf_counter()
            latencies = await asyncio.gather(*(one(i) for i in range(calls)))
            return rate(calls, started), list(latencies)

    return asyncio.run(run())


def main() -> None:
    """Run every SDK benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000)
    args = parser.parse_args()
    with local_stack() as endpoints:
        settings = endpoints.settings()
        payloads = pre_encoded(args.events)
        raw = raw_produce(settings, payloads)
        sdk = sdk_publish(settings, args.events)
        fast_encode = encode_only(args.events // 2, fast=True)
        generic_encode = encode_only(args.events // 4, fast=False)
        with StaticResponder(settings):
            latencies = authorize_latency(settings, args.calls)
            concurrent_rate, concurrent_latencies = authorize_concurrent(settings, args.calls)
    rows = [
        Row("raw produce, pre-encoded (baseline)", raw, ratio=1.0),
        Row("SDK request_access (validate+encode+produce)", sdk, ratio=sdk / raw),
        Row("SDK validate+encode only (no Kafka)", fast_encode, ratio=fast_encode / raw),
        Row("generic codec validate+encode (no Kafka)", generic_encode, ratio=generic_encode / raw),
        Row(
            "authorize() sequential round trip", 1000 / percentile(latencies, 0.5),
            percentile(latencies, 0.5), percentile(latencies, 0.99), note="static responder",
        ),
        Row(
            f"authorize() {args.calls} concurrent (asyncio)", concurrent_rate,
            percentile(concurrent_latencies, 0.5), percentile(concurrent_latencies, 0.99),
            note="static responder",
        ),
    ]  # fmt: skip
    print_table(f"riskseal SDK, {args.events:,} events", rows)


if __name__ == "__main__":
    main()
