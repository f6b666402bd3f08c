"""Turning Kafka messages into sealed records, and deciding when a batch is a block."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import Message

from riskseal.block import SealedRecord
from riskseal.contract.codec import EventCodec
from riskseal.errors import ContractError

MAX_FLAG_LENGTH = 500


def sealed_record(message: Message, codec: EventCodec) -> SealedRecord:
    """The record exactly as received, flagged when its value is not a riskseal event."""
    timestamp_type, timestamp = message.timestamp()
    value = message.value()
    flag = None
    if value is None:
        flag = "no value (tombstone)"
    else:
        try:
            codec.schema_of(value)
        except ContractError as exc:
            flag = str(exc)[:MAX_FLAG_LENGTH]
    raw_headers = message.headers() or []
    pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
    headers = tuple(
        (name, header_value.encode() if isinstance(header_value, str) else header_value)
        for name, header_value in pairs
    )
    return SealedRecord(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        timestamp=timestamp if timestamp_type else -1,
        timestamp_type=timestamp_type,
        key=message.key(),
        value=value,
        headers=headers,
        flag=flag,
    )


@dataclass
class Batch:
    """Records waiting to be sealed for one partition."""

    records: list[SealedRecord] = field(default_factory=list)
    size_bytes: int = 0
    started: float = 0.0

    def add(self, record: SealedRecord) -> None:
        """Append a record and account for its size."""
        if not self.records:
            self.started = time.monotonic()
        self.records.append(record)
        self.size_bytes += len(record.value or b"") + len(record.key or b"") + 64

    def due(self, max_records: int, max_bytes: int, max_age_s: float) -> bool:
        """Whether the batch should be sealed now."""
        if not self.records:
            return False
        return (
            len(self.records) >= max_records
            or self.size_bytes >= max_bytes
            or time.monotonic() - self.started >= max_age_s
        )

    def clear(self) -> None:
        """Forget every record (after sealing, or when another sealer won)."""
        self.records = []
        self.size_bytes = 0
