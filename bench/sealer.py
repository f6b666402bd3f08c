"""Sealer benchmark: records/s and MB/s sealed, against a plain Kafka-to-S3 copy.

Run with ``make bench-sealer`` (or ``.venv/bin/python -m bench.sealer``). Both runs read the
same records from the same local memory broker with the same consumer settings and batch
size; the baseline writes each batch's raw values to S3 with a plain PUT (no hashing, no
signing, no checksum, no lock headers), the sealer writes signed, Merkle-rooted, locked
blocks.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

from bench.common import Row, local_stack, percentile, print_table, rate
from riskseal.contract import AccessRequest, Actor, EventCodec, Resource, SourceStamp
from riskseal.contract.events import new_event_id
from riskseal.keys import FileSigner
from riskseal.s3client import s3_client_for
from riskseal.sealer.keyring import ensure_signer_listed
from riskseal.sealer.service import Sealer
from riskseal.sealer.store import S3BlockStore
from riskseal.settings import Settings
from riskseal.stack.provision import ensure_topics


def fill_topics(settings: Settings, count: int) -> int:
    """Produce ``count`` encoded access requests; return the bytes written."""
    codec = EventCodec()
    producer = Producer({**settings.kafka_config(), "linger.ms": 20})
    total = 0
    for i in range(count):
        request = AccessRequest(
            event_id=new_event_id(), time=1_800_000_000_000 + i, source=SourceStamp("bench", 1, i),
            actor=Actor(f"user-{i % 500}"), action="data.read", resource=Resource("doc", f"d{i}"),
        )  # fmt: skip
        value = codec.encode_event(request)
        total += len(value)
        while True:
            try:
                producer.produce(settings.topic_requests, value, key=request.actor.uid.encode())
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(60) == 0
    return total


def baseline_copy(settings: Settings, count: int) -> tuple[float, list[float]]:
    """The same consumer copying batches to S3 with plain PUTs; (records/s, PUT ms)."""
    client = s3_client_for(settings, "writer")
    consumer = Consumer(
        {**settings.kafka_consumer_config(f"copy-{uuid.uuid4()}"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([settings.topic_requests])
    batches: dict[int, list[bytes]] = {}
    seen = 0
    latencies: list[float] = []
    started = None
    while seen < count:
        for message in consumer.consume(5_000, 0.2):
            value = message.value()
            if message.error() is not None or value is None:
                continue
            started = started or time.perf_counter()
            seen += 1
            batch = batches.setdefault(message.partition() or 0, [])
            batch.append(value)
            if len(batch) >= settings.seal_max_records or seen == count:
                put_started = time.perf_counter()
                client.put_object(
                    Bucket=settings.s3_bucket,
                    Key=f"{settings.s3_prefix}/copy/{uuid.uuid4()}",
                    Body=b"".join(batch),
                )
                latencies.append((time.perf_counter() - put_started) * 1000)
                batch.clear()
    for partition, batch in batches.items():
        if batch:
            client.put_object(
                Bucket=settings.s3_bucket,
                Key=f"{settings.s3_prefix}/copy/{partition}",
                Body=b"".join(batch),
            )
    consumer.close()
    assert started is not None
    return rate(count, started), latencies


def seal_all(settings: Settings, count: int) -> tuple[float, list[float]]:
    """Run the sealer until every record is sealed; (records/s, block ms)."""
    signer = FileSigner.generate("bench")
    store = S3BlockStore(s3_client_for(settings, "writer"), settings.s3_bucket, "COMPLIANCE", 1)
    manifest = ensure_signer_listed(store, settings.s3_prefix, signer)
    sealer = Sealer(settings, signer, manifest.public_keys(), store)
    stop = threading.Event()
    thread = threading.Thread(target=sealer.run, args=(stop,))
    thread.start()
    while sealer.metrics.records == 0:
        time.sleep(0.001)
    first_block = time.perf_counter() - sealer.metrics.block_ms[0] / 1000
    while sealer.metrics.records < count:
        time.sleep(0.005)
    result = rate(count, first_block)
    stop.set()
    thread.join()
    return result, list(sealer.metrics.block_ms)


def main() -> None:
    """Run both and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    with local_stack() as endpoints:
        tag = uuid.uuid4().hex[:8]
        settings = endpoints.settings(
            topic_requests=f"bench{tag}.requests", topic_actions=f"bench{tag}.actions",
            topic_decisions=f"bench{tag}.decisions", topic_deadletter=f"bench{tag}.deadletter",
            topic_alerts=f"bench{tag}.alerts", s3_prefix=f"bench/{tag}",
            sealer_group_id=f"sealer-{tag}", seal_max_age_s=0.5,
        )  # fmt: skip
        ensure_topics(settings.kafka_bootstrap, settings.topic_partitions, 1)
        size = fill_topics(settings, args.records)
        copy_rate, copy_ms = baseline_copy(settings, args.records)
        seal_rate, block_ms = seal_all(settings, args.records)
    mb = size / args.records / 1e6
    rows = [
        Row("Kafka -> S3 plain copy (baseline)", copy_rate, percentile(copy_ms, 0.5),
            percentile(copy_ms, 0.99), 1.0, f"{copy_rate * mb:.1f} MB/s, PUT latency"),
        Row("sealer: hash, sign, lock, If-None-Match", seal_rate, percentile(block_ms, 0.5),
            percentile(block_ms, 0.99), seal_rate / copy_rate,
            f"{seal_rate * mb:.1f} MB/s, block latency"),
    ]  # fmt: skip
    print_table(f"riskseal sealer, {args.records:,} records of {size / args.records:.0f} B", rows)


if __name__ == "__main__":
    main()
