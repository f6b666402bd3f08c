"""Turning Kafka messages into canonical sealed records, and deciding when a batch is a block."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import Message

from riskseal.block import encode_record, record_prefix
from riskseal.contract.codec import EventCodec
from riskseal.errors import ContractError

MAX_FLAG_LENGTH = 500


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """A received record in its canonical sealed encoding, waiting for its block."""

    offset: int
    timestamp: int
    """Kafka timestamp in ms, -1 when the broker gave none."""
    data: bytes
    flagged: bool


class RecordEncoder:
    """Encodes messages as sealed records; remembers each partition's constant prefix."""

    def __init__(self, codec: EventCodec) -> None:
        self.codec = codec
        self._prefixes: dict[tuple[str, int], bytes] = {}

    def encode(self, message: Message) -> PendingRecord:
        """The record exactly as received, flagged when its value is not a riskseal event."""
        topic, partition = message.topic() or "", message.partition() or 0
        prefix = self._prefixes.get((topic, partition))
        if prefix is None:
            prefix = self._prefixes[(topic, partition)] = record_prefix(topic, partition)
        timestamp_type, timestamp = message.timestamp()
        if not timestamp_type:
            timestamp = -1
        value = message.value()
        flag = self.flag(value)
        raw_headers = message.headers() or []
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
        headers = [
            (name, header_value.encode() if isinstance(header_value, str) else header_value)
            for name, header_value in pairs
        ]
        offset = message.offset() or 0
        data = encode_record(
            prefix, offset, timestamp, timestamp_type, message.key(), value, headers, flag
        )
        return PendingRecord(offset, timestamp, data, flag is not None)

    def flag(self, value: bytes | None) -> str | None:
        """Why ``value`` is not a riskseal event, or None when it is one."""
        if value is None:
            return "no value (tombstone)"
        try:
            self.codec.schema_of(value)
        except ContractError as exc:
            return str(exc)[:MAX_FLAG_LENGTH]
        return None


@dataclass
class Batch:
    """Records waiting to be sealed for one partition."""

    records: list[PendingRecord] = field(default_factory=list)
    size_bytes: int = 0
    started: float = 0.0

    def add(self, record: PendingRecord) -> None:
        """Append a record and account for its size."""
        if not self.records:
            self.started = time.monotonic()
        self.records.append(record)
        self.size_bytes += len(record.data)

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
