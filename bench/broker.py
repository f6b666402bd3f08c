"""Local broker benchmark: does a constant load cost the broker more as its history grows?

Run with ``make bench-broker`` (or ``.venv/bin/python -m bench.broker``). On a fresh local
stack, one producer writes records at a constant rate to a topic of 4 partitions while one
consumer reads them back as they arrive (10 ms fetch wait, as the risk workers fetch). Every
window of ``--window`` seconds prints the records written so far and the broker's CPU in that
window. On a broker whose cost per request does not depend on the log's length (Apache Kafka
finds a fetch's position through an offset index) the CPU stays flat; the baseline is the
first window of the same run.

It explains the risk worker benchmark's latency on this stack (docs/RISK.md, "Worker
throughput and latency"): the broker's share of the machine grows with the history it holds.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Sequence

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.common import Row, local_stack, print_table
from bench.risk import broker_pid, cpu_seconds
from riskseal.stack.provision import ensure_settings_topics

PARTITIONS = 4


class TailReader:
    """Reads a topic from the start, as records arrive, on a thread of its own."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-broker-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        self._thread = threading.Thread(target=self._run, name="tail-reader")

    def __enter__(self) -> TailReader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += len(self._consumer.consume(500, 0.1))


def main(argv: Sequence[str] | None = None) -> None:
    """Print the broker's CPU per window under a constant produce-and-consume load."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=1_000, help="records per second")
    parser.add_argument("--record-bytes", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=5.0, help="seconds per table row")
    parser.add_argument(
        "--linger-ms", type=int, default=5,
        help="the producer's linger: a longer one puts more records in each stored batch",
    )  # fmt: skip
    args = parser.parse_args(argv)

    rows: list[Row] = []
    with local_stack() as endpoints:
        settings = endpoints.settings()
        topic = f"bench-broker-{uuid.uuid4().hex[:8]}"
        ensure_settings_topics(settings, {topic: PARTITIONS})
        broker = broker_pid(settings.kafka_bootstrap)
        if broker is None:
            raise RuntimeError("no local broker process found to measure")
        producer = Producer(
            {"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": args.linger_ms}
        )
        payload = b"x" * args.record_bytes
        with TailReader(settings.kafka_bootstrap, topic) as reader:
            started = time.perf_counter()
            window_start, window_cpu = started, cpu_seconds(broker)
            sent = 0
            first_cpu: float | None = None
            while (now := time.perf_counter()) - started < args.seconds:
                while sent < int((now - started) * args.rate):
                    producer.produce(topic, payload, key=str(sent % 1_000).encode())
                    sent += 1
                producer.poll(0)
                if now - window_start >= args.window:
                    cpu = (cpu_seconds(broker) - window_cpu) / (now - window_start)
                    first_cpu = cpu if first_cpu is None else first_cpu
                    rows.append(
                        Row(
                            f"after {now - started:.0f} s, {sent:,} records written",
                            reader.count / (now - started),
                            ratio=cpu / first_cpu,
                            note=f"broker {cpu:.2f} of a core in the last {args.window:g} s",
                        )
                    )
                    window_start, window_cpu = now, cpu_seconds(broker)
                time.sleep(0.002)
            producer.flush(30)
        del producer  # its client threads would keep calling the stopped broker
    print_table(
        f"Local broker under {args.rate:,} records/s of {args.record_bytes} B "
        f"(events/s: read back; ratio: broker CPU against the first window)",
        rows,
    )


if __name__ == "__main__":
    main()
