"""Reading the demo's fresh topics from the beginning, and the workers' committed offsets.

The local broker's end offsets are too low (docs: ARCHITECTURE.md), so the end of a topic is
never asked for: a reader counts what it reads, and a partition is at its end when the
broker said so in a fetch response (``enable.partition.eof``: the high watermark that comes
back with fetched records is right) and nothing was read since.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from riskseal.demo.report import DemoFailed
from riskseal.settings import Settings

BATCH = 500


class TopicReader:
    """Reads every partition of one topic from offset 0, counting per partition."""

    def __init__(self, settings: Settings, topic: str, partitions: int) -> None:
        self.topic = topic
        self.next_offsets = dict.fromkeys(range(partitions), 0)
        """Per partition, the offset after the last record read (= records read, topics
        are fresh and written without transactions)."""
        self._at_eof = dict.fromkeys(range(partitions), False)
        self._consumer = Consumer(
            {
                **settings.kafka_config(),
                "group.id": f"riskseal-demo-reader-{uuid.uuid4()}",  # never joined: assign()
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 50,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])

    @property
    def count(self) -> int:
        """Records read so far."""
        return sum(self.next_offsets.values())

    @property
    def at_end(self) -> bool:
        """Every partition reached the end the broker reported, with nothing read since."""
        return all(self._at_eof.values())

    def poll(self, timeout_s: float = 0.05) -> list[Message]:
        """Records read within ``timeout_s`` (at most a batch)."""
        records: list[Message] = []
        for message in self._consumer.consume(BATCH, timeout_s):
            partition = message.partition()
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF and partition is not None:
                    self._at_eof[partition] = True
                    continue
                raise DemoFailed(f"reading {self.topic}: {error}")
            offset = message.offset()
            if partition is None or offset is None:
                continue
            self._at_eof[partition] = False
            self.next_offsets[partition] = offset + 1
            records.append(message)
        return records

    def read_until(
        self, done: Callable[[TopicReader], bool], timeout_s: float, what: str
    ) -> list[Message]:
        """Poll until ``done(self)``; DemoFailed naming ``what`` after ``timeout_s``."""
        records: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while not done(self):
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"read {self.count} records of {self.topic} in {timeout_s:g} s, "
                    f"waiting for {what}"
                )
            records.extend(self.poll(0.1))
        return records

    def close(self) -> None:
        """Leave (nothing to commit: the reader never joins a group)."""
        self._consumer.close()


class CommittedOffsets:
    """The offsets a consumer group has committed, read without joining the group."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self.group_id = group_id
        self._consumer = Consumer(
            {**settings.kafka_config(), "group.id": group_id, "enable.auto.commit": False}
        )

    def reached(self, topic: str, ends: dict[int, int]) -> bool:
        """True when the group's committed offset is at least ``ends[p]`` on every partition."""
        asked = [TopicPartition(topic, p) for p in ends]
        committed = {tp.partition: tp.offset for tp in self._consumer.committed(asked, 10)}
        return all(end == 0 or committed.get(p, -1) >= end for p, end in ends.items())

    def close(self) -> None:
        """Close the lookup consumer (it never joined the group)."""
        self._consumer.close()


def wait_until_processed(
    settings: Settings, topic: str, partitions: int, expected: int, timeout_s: float
) -> None:
    """Wait until the risk workers have committed all ``expected`` records of ``topic``.

    The topic is read to its end, counting, for the last offset of each partition; then the
    workers' group must have committed past them. Faust flushes its outputs before it
    commits, so what those records caused (state, alerts) is in place by then.
    """
    reader = TopicReader(settings, topic, partitions)
    try:
        reader.read_until(lambda r: r.at_end and r.count >= expected, timeout_s, f"{expected}")
    finally:
        reader.close()
    committed = CommittedOffsets(settings, settings.risk_app_id)
    try:
        deadline = time.monotonic() + timeout_s
        while not committed.reached(topic, reader.next_offsets):
            if time.monotonic() > deadline:
                raise DemoFailed(f"the risk workers did not process {topic} in {timeout_s:g} s")
            time.sleep(0.1)
    finally:
        committed.close()
