"""The broker of the stack: topics exist with their partition counts and carry records."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from riskseal.kafka import consume_values
from tests.integration.conftest import RealStack


def test_every_topic_exists_with_its_partition_count(real_stack: RealStack) -> None:
    settings = real_stack.settings
    metadata = AdminClient(settings.kafka_config()).list_topics(timeout=10)
    actual = {
        name: len(metadata.topics[name].partitions)
        for name in settings.topic_partitions
        if name in metadata.topics
    }
    assert actual == settings.topic_partitions


def test_requests_and_actions_are_co_partitioned(real_stack: RealStack) -> None:
    settings = real_stack.settings
    metadata = AdminClient(settings.kafka_config()).list_topics(timeout=10)
    assert len(metadata.topics[settings.topic_requests].partitions) == len(
        metadata.topics[settings.topic_actions].partitions
    )


def test_records_round_trip_through_the_broker(real_stack: RealStack) -> None:
    settings = real_stack.settings
    topic = settings.topic_deadletter
    marker = uuid.uuid4().hex.encode()
    producer = Producer({**settings.kafka_config(), "acks": "all", "enable.idempotence": True})
    producer.produce(topic, value=marker, partition=0)
    assert producer.flush(10) == 0
    consumer = Consumer(
        settings.kafka_consumer_config(f"test-{uuid.uuid4()}") | {"enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = consume_values(consumer, lambda values: marker in values, timeout_s=20)
    consumer.close()
    assert marker in seen
