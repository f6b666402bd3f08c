"""A producer that writes a header name that is not UTF-8.

Kafka stores header names as bytes, and producers in other languages write whatever bytes
they are given. The Python clients cannot: confluent-kafka turns a ``bytes`` name into its
``repr`` text, and aiokafka encodes a ``str``. aiokafka's pure-Python batch builder calls the
name's ``encode()``, so a ``str`` whose ``encode()`` gives the raw bytes, sent through that
builder, puts exactly those bytes on the wire.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from aiokafka import AIOKafkaProducer
from aiokafka.producer import message_accumulator, producer
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from riskseal.settings import Settings


class RawName(str):
    """A header name that encodes to given bytes."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawName:
        name = super().__new__(cls, raw.decode("latin-1"))
        name.raw = raw
        return name

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def produce_with_raw_header_name(
    settings: Settings, topic: str, *, partition: int, key: bytes, value: bytes, name: bytes
) -> int:
    """Write one record whose first header name is ``name`` exactly; its offset."""

    async def send() -> int:
        options: dict[str, Any] = {
            "bootstrap_servers": settings.kafka_bootstrap,
            "security_protocol": settings.kafka_security_protocol,
        }
        if settings.kafka_sasl_mechanism is not None:
            options["sasl_mechanism"] = settings.kafka_sasl_mechanism
            options["sasl_plain_username"] = settings.kafka_sasl_username
            password = settings.kafka_sasl_password
            options["sasl_plain_password"] = password and password.get_secret_value()
        client = AIOKafkaProducer(**options)
        await client.start()
        try:
            headers = [(RawName(name), b"v"), ("good", b"g")]
            metadata = await client.send_and_wait(
                topic, value, key=key, partition=partition, headers=headers
            )
        finally:
            await client.stop()
        return int(metadata.offset)

    builder = _DefaultRecordBatchBuilderPy
    with (
        mock.patch.object(message_accumulator, "DefaultRecordBatchBuilder", builder),
        mock.patch.object(producer, "DefaultRecordBatchBuilder", builder),
    ):
        return asyncio.run(send())
