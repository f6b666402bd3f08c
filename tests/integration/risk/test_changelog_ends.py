"""End offsets of a partition whose newest batch holds several records.

The local broker answers ListOffsets(latest) with the newest batch's base offset + 1, which
is what cut Faust's changelog recovery short (lost updates on the memory store, a
ConsistencyError at start on RocksDB). ``true_end_offsets`` reads to the real end instead.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from faust.types import TP

from riskseal.risk.recovery import true_end_offsets
from riskseal.stack.provision import ensure_settings_topics
from tests.integration.conftest import RealStack

pytestmark = pytest.mark.integration


def _topic_with_a_multi_record_last_batch(real_stack: RealStack) -> str:
    """Partition 0: three one-record batches, then one batch of seven; partition 1 empty."""
    settings = real_stack.settings
    topic = f"ends-{uuid.uuid4().hex[:10]}"
    ensure_settings_topics(settings, {topic: 2})
    producer = Producer({**settings.kafka_config(), "linger.ms": 100})
    for i in range(3):
        producer.produce(topic, b"single %d" % i, partition=0)
        assert producer.flush(10) == 0
    for i in range(7):
        producer.produce(topic, b"batched %d" % i, partition=0)
    assert producer.flush(10) == 0
    return topic


def _list_offsets_end(real_stack: RealStack, topic: str, partition: int) -> int:
    consumer = Consumer({**real_stack.settings.kafka_config(), "group.id": "ends-reader"})
    try:
        _, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=10, cached=False
        )
    finally:
        consumer.close()
    return int(high)


def test_list_offsets_and_true_end_of_a_multi_record_batch(real_stack: RealStack) -> None:
    topic = _topic_with_a_multi_record_last_batch(real_stack)
    reported = _list_offsets_end(real_stack, topic, 0)
    if real_stack.local is not None:
        # The quirk itself: the base offset (3) + 1 of the newest batch, not 10.
        assert reported == 4
    else:
        assert reported == 10
    ends = true_end_offsets(
        real_stack.settings.kafka_config(), {TP(topic, 0): reported, TP(topic, 1): 0}
    )
    assert ends == {TP(topic, 0): 10, TP(topic, 1): 0}


def test_true_end_offsets_of_nothing_is_nothing(real_stack: RealStack) -> None:
    assert true_end_offsets(real_stack.settings.kafka_config(), {}) == {}
