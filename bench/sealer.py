"""Sealer benchmark: records/s and MB/s sealed, against a plain Kafka-to-S3 copy.

Run with ``make bench-sealer`` (or ``.venv/bin/python -m bench.sealer``). Both runs read the
same records from the same local memory broker with the same consumer settings and batch
size, the same hand-over of full batches to writer threads; the baseline writes each
batch's raw values to S3 with a plain PUT (no hashing, no signing, no checksum, no lock
headers), the sealer writes signed, Merkle-rooted, locked blocks.

Both clocks start at the first record received and stop when the last record is written.
The records are spread evenly over the partitions, a whole number of blocks each, so that
neither side waits for a partial batch to age at the end. Each round runs both over the
same records, in alternating order; the ratio is the sealer's rate over the baseline's of
the same round.
"""

from __future__ import annotations

import argparse
import queue
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
from riskseal.sealer.service import CONSUME_BATCH, Sealer
from riskseal.sealer.store import S3BlockStore
from riskseal.settings import Settings
from riskseal.stack.provision import ensure_settings_topics


def fill_topics(settings: Settings, count: int) -> int:
    """Produce ``count`` encoded access requests, round robin over the partitions; return the
    bytes written."""
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
                producer.produce(
                    settings.topic_requests,
                    value,
                    key=request.actor.uid.encode(),
                    partition=i % settings.partitions_access,
                )
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(60) == 0
    return total


def baseline_copy(settings: Settings, count: int) -> tuple[float, list[float]]:
    """The same consumer copying batches to S3 with plain PUTs; (records/s, PUT ms).

    Built like the sealer: the consuming thread batches per partition and hands each full
    batch to its partition's writer thread (``seal_writer_threads`` of them), waiting for them
    while ``seal_in_flight_blocks`` batches wait.
    """
    threads, in_flight_limit = settings.seal_writer_threads, settings.seal_in_flight_blocks
    client = s3_client_for(settings, "writer")
    consumer = Consumer(
        {**settings.kafka_consumer_config(f"copy-{uuid.uuid4()}"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([settings.topic_requests])
    lanes: list[queue.SimpleQueue[list[bytes] | None]] = [
        queue.SimpleQueue() for _ in range(threads)
    ]
    done: queue.SimpleQueue[float] = queue.SimpleQueue()
    latencies: list[float] = []

    def write(jobs: queue.SimpleQueue[list[bytes] | None]) -> None:
        while (batch := jobs.get()) is not None:
            put_started = time.perf_counter()
            client.put_object(
                Bucket=settings.s3_bucket,
                Key=f"{settings.s3_prefix}/copy/{uuid.uuid4()}",
                Body=b"".join(batch),
            )
            done.put((time.perf_counter() - put_started) * 1000)

    writers = [threading.Thread(target=write, args=(lane,)) for lane in lanes]
    for writer in writers:
        writer.start()
    batches: dict[int, list[bytes]] = {}
    seen = in_flight = 0
    paused = False
    started = None
    while seen < count:
        first = consumer.poll(0.2)  # the sealer's loop: poll, then drain what is fetched
        for message in [] if first is None else [first, *consumer.consume(CONSUME_BATCH, 0)]:
            value = message.value()
            if message.error() is not None or value is None:
                continue
            started = started or time.perf_counter()
            seen += 1
            batch = batches.setdefault(message.partition() or 0, [])
            batch.append(value)
            if len(batch) >= settings.seal_max_records or seen == count:
                partition = message.partition() or 0
                lanes[partition % threads].put(batches.pop(partition))
                in_flight += 1
                deadline = time.monotonic() + settings.seal_writer_wait_s
                while in_flight >= in_flight_limit and not paused:
                    try:
                        latencies.append(done.get(timeout=max(0.0, deadline - time.monotonic())))
                        in_flight -= 1
                    except queue.Empty:
                        paused = True
                        consumer.pause(consumer.assignment())
        while not done.empty():
            latencies.append(done.get())
            in_flight -= 1
        if paused and in_flight <= in_flight_limit // 2:
            paused = False
            consumer.resume(consumer.assignment())
    for partition, batch in batches.items():
        lanes[partition % threads].put(batch)
    for lane, writer in zip(lanes, writers, strict=True):
        lane.put(None)
        writer.join()
    result = rate(count, started) if started is not None else 0.0
    while not done.empty():
        latencies.append(done.get())
    consumer.close()
    return result, latencies


def seal_all(settings: Settings, count: int) -> tuple[float, list[float]]:
    """Run the sealer until every record is sealed; (records/s, block ms)."""
    signer = FileSigner.generate("bench")
    store = S3BlockStore(s3_client_for(settings, "writer"), settings.s3_bucket, "COMPLIANCE", 1)
    manifest = ensure_signer_listed(store, settings.s3_prefix, signer)
    sealer = Sealer(settings, signer, manifest, store)
    stop = threading.Event()
    thread = threading.Thread(target=sealer.run, args=(stop,))
    thread.start()
    while sealer.metrics.consumed == 0:
        time.sleep(0.0005)
    started = time.perf_counter()
    while sealer.metrics.records < count:
        time.sleep(0.001)
    result = rate(count, started)
    stop.set()
    thread.join()
    return result, list(sealer.metrics.block_ms)


def main() -> None:
    """Run both, ``--rounds`` times in alternating order, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2, help="baseline and sealer pairs")
    args = parser.parse_args()
    rows: list[Row] = []
    with local_stack() as endpoints:
        tag = uuid.uuid4().hex[:8]
        settings = endpoints.settings(
            topic_requests=f"bench{tag}.requests", topic_actions=f"bench{tag}.actions",
            topic_decisions=f"bench{tag}.decisions", topic_deadletter=f"bench{tag}.deadletter",
            topic_alerts=f"bench{tag}.alerts", s3_prefix=f"bench/{tag}",
            sealer_group_id=f"sealer-{tag}", seal_max_age_s=0.5,
        )  # fmt: skip
        block = settings.partitions_access * settings.seal_max_records
        count = -(-args.records // block) * block  # whole blocks in every partition
        ensure_settings_topics(settings, settings.topic_partitions)
        size = fill_topics(settings, count)
        mb = size / count / 1e6
        for round_ in range(1, args.rounds + 1):
            # every run reads the same records; the sealer writes fresh chains each round
            fresh = settings.model_copy(
                update={"s3_prefix": f"bench/{tag}/{round_}", "sealer_group_id": f"s{round_}-{tag}"}
            )
            if round_ % 2:
                copy_rate, copy_ms = baseline_copy(fresh, count)
                seal_rate, block_ms = seal_all(fresh, count)
            else:  # the other order, so that neither side always runs on a warmer stack
                seal_rate, block_ms = seal_all(fresh, count)
                copy_rate, copy_ms = baseline_copy(fresh, count)
            rows += [
                Row(f"{round_}: Kafka -> S3 plain copy (baseline)", copy_rate,
                    percentile(copy_ms, 0.5), percentile(copy_ms, 0.99), 1.0,
                    f"{copy_rate * mb:.1f} MB/s, PUT latency"),
                Row(f"{round_}: sealer: hash, sign, lock, If-None-Match", seal_rate,
                    percentile(block_ms, 0.5), percentile(block_ms, 0.99), seal_rate / copy_rate,
                    f"{seal_rate * mb:.1f} MB/s, block latency"),
            ]  # fmt: skip
    print_table(f"riskseal sealer, {count:,} records of {size / count:.0f} B", rows)


if __name__ == "__main__":
    main()
