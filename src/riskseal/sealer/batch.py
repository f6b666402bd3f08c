"""Turning Kafka messages into canonical sealed records, and deciding when a batch is a block.

This is the sealer's hot loop: every audit record passes through :meth:`Batch.fill`. Most
records look alike — the partition's next offset, a create-time timestamp, a short key, a
riskseal event as value, no headers — and for those the canonical encoding of
docs/FORMAT.md §2 is one ``bytes.join`` of pieces that are looked up, not computed: the
partition's constant (topic, partition) prefix, the varints of the offset and the timestamp
(for ``n ≥ 64`` the zig-zag varint of ``n`` is one byte ``0x80 | 2·(n mod 64)`` followed by
the varint of ``n // 64``, which changes once every 64 offsets or milliseconds), and the
union branch with the length of the key and of the value. Every other record — a small
offset or timestamp, no key or value, headers, a value that is not a riskseal event, an
offset that is not the next one — goes through :meth:`RecordEncoder.encode`, the general
encoder. Both give the same bytes (pinned to fastavro by property tests).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from confluent_kafka import Message

from riskseal.avrobin import uvarint, zigzag
from riskseal.block import encode_record, record_prefix
from riskseal.contract.codec import HEADER_SIZE, MAGIC, EventCodec
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ContractError

MAX_FLAG_LENGTH = 500
UNREADABLE_HEADERS = "headers not sealed: a header name is not valid UTF-8"
"""The flag (or its end) of a record whose headers could not be read: Kafka lets producers
write any bytes as a header name, and neither librdkafka's Python client nor a sealed
record (docs/FORMAT.md §2) takes a name that is not UTF-8."""

_FAST_LENGTH = 8192
"""Keys and values shorter than this take the fast path (their length prefix is cached)."""
_LOW = tuple(bytes([0x80 | 2 * n]) for n in range(64))
"""The first varint byte of the zig-zag encoding of ``n ≥ 64``, by ``n mod 64``."""
_PRESENT = tuple(b"\x02" + zigzag(n) for n in range(_FAST_LENGTH))
"""A ``[null, bytes]`` union holding ``n`` bytes, up to the bytes themselves."""
_TIMESTAMP_TYPES = (b"\x00", b"\x02", b"\x04")
"""The encodings of the timestamp types 0, 1, 2."""
_TRAILER = b"\x00\x00"
"""No headers (an empty array), then no flag (the null branch)."""
_NO_OFFSET = -1
"""``Batch.next_offset`` of an empty chain: the first record may have any offset."""
_NOT_SOUGHT = 2**63
"""``Batch._sought`` of a batch whose consumer was not sought (no offset is above it)."""


ReadHeaders = (
    list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None | UnicodeDecodeError
)
"""A message's headers as :func:`read_headers` gives them."""


_call_headers = operator.methodcaller("headers")
"""``message.headers()`` through a C call that checks the result (see read_headers)."""


def read_headers(message: Message) -> ReadHeaders:
    """``message.headers()``, or the error that says a header name is not UTF-8.

    Call it at most once per message. When a name is not UTF-8, confluent-kafka (2.16,
    ``c_headers_to_py``) keeps a list with that name missing and returns it with the
    decoding error still pending. Called from Python code, the error may then surface at
    some later, unrelated operation; through ``methodcaller`` it surfaces here, as a
    ``SystemError`` caused by the ``UnicodeDecodeError``. The message keeps the broken
    list: a second call returns it without an error, and touching it crashes the process.
    """
    try:
        return cast(ReadHeaders, _call_headers(message))
    except (UnicodeDecodeError, SystemError) as exc:
        return _unreadable(exc)


def _unreadable(exc: UnicodeDecodeError | SystemError) -> UnicodeDecodeError:
    """The decoding error of a header name that ``exc`` is or was caused by; ``exc`` itself
    is raised again when it is something else."""
    if isinstance(exc, UnicodeDecodeError):
        return exc
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return exc.__cause__
    raise exc


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """A received record in its canonical sealed encoding, waiting for its block."""

    offset: int
    timestamp: int
    """Kafka timestamp in ms, -1 when the broker gave none."""
    data: bytes
    flagged: bool


class RecordEncoder:
    """Encodes messages as sealed records, flagged when the value is not a riskseal event or
    the headers cannot be read."""

    def __init__(
        self, codec: EventCodec, topic_types: Mapping[str, EventType] | None = None
    ) -> None:
        """``topic_types``: the event type each topic carries, which settles the rare
        Schema Registry-framed body that fits two schemas (see ``EventCodec.decode``)."""
        self.codec = codec
        self.topic_types = dict(topic_types or {})
        self.event_headers = frozenset(MAGIC + schema.fingerprint for schema in codec.schemas)
        """Every single-object header (magic and fingerprint) of a known event schema."""
        self._prefixes: dict[tuple[str, int], bytes] = {}

    def prefix(self, topic: str, partition: int) -> bytes:
        """The encoding of a record's (topic, partition), the same for a whole partition."""
        prefix = self._prefixes.get((topic, partition))
        if prefix is None:
            prefix = self._prefixes[(topic, partition)] = record_prefix(topic, partition)
        return prefix

    def encode(self, message: Message, headers: ReadHeaders) -> PendingRecord:
        """The record exactly as received, flagged when its value is not a riskseal event.

        ``headers`` is what :func:`read_headers` gave for ``message``. A record whose headers
        cannot be read (a name that is not UTF-8) is sealed without them, with
        :data:`UNREADABLE_HEADERS` in its flag: the rest of it is kept, and the chain goes on.
        """
        timestamp_type, timestamp = message.timestamp()
        if not timestamp_type:
            timestamp = -1
        value = message.value()
        flag = self.flag(value, message.topic())
        if isinstance(headers, UnicodeDecodeError):
            reason = f"{UNREADABLE_HEADERS} ({headers.reason} at byte {headers.start} of a name)"
            flag = (reason if flag is None else f"{flag}; {reason}")[:MAX_FLAG_LENGTH]
            headers = None
        pairs = (headers.items() if isinstance(headers, dict) else headers) or ()
        sealed_headers = [
            (name, header_value.encode() if isinstance(header_value, str) else header_value)
            for name, header_value in pairs
        ]
        offset = message.offset() or 0
        data = encode_record(
            self.prefix(message.topic() or "", message.partition() or 0),
            offset,
            timestamp,
            timestamp_type,
            message.key(),
            value,
            sealed_headers,
            flag,
        )
        return PendingRecord(offset, timestamp, data, flag is not None)

    def flag(self, value: bytes | None, topic: str | None = None) -> str | None:
        """Why ``value`` is not a riskseal event, or None when it is one.

        A riskseal event is a value in Avro single-object encoding with a known schema
        fingerprint (docs/FORMAT.md §2): exactly when its first ``HEADER_SIZE`` bytes are
        one of ``event_headers``. Only the reason for a flag needs the codec.
        """
        if value is None:
            return "no value (tombstone)"
        if value[:HEADER_SIZE] in self.event_headers:
            return None
        try:
            self.codec.schema_of(value, self.topic_types.get(topic or ""))
        except ContractError as exc:
            return str(exc)[:MAX_FLAG_LENGTH]
        return None  # a Schema Registry-framed event


@dataclass(frozen=True, slots=True)
class OffsetGap:
    """The partition's next record is not at ``expected`` but at ``found``.

    Above it, Kafka has no records from ``expected`` up to ``found`` (exclusive): compacted,
    expired before they were sealed, or transaction markers. Below it (:attr:`backwards`),
    the log itself went back: the topic was deleted and created again, an unclean leader
    election truncated it, or the broker lost its data; the records at those offsets now are
    not the ones sealed there.
    """

    expected: int
    found: int

    @property
    def backwards(self) -> bool:
        """Whether the log went back to an offset already sealed."""
        return self.found < self.expected


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """The records of one block-to-be, taken out of a :class:`Batch`."""

    records: list[bytes]
    """Each record's canonical bytes, in offset order."""
    first_offset: int
    last_offset: int
    size_bytes: int
    flagged: int
    oldest_ms: int | None
    """The smallest Kafka timestamp of the records (None when none has one)."""


class Batch:
    """Records waiting to be sealed for one partition, already in canonical encoding.

    ``next_offset`` is the offset the next record must have. A batch made with ``resync``
    (the consumer was just sought to ``next_offset``) skips records other than that offset
    until it arrives: those were fetched before the seek and come again after it. Records it
    took before the seek's fetch caught up come again too, and are skipped: records below
    ``next_offset`` but not below the offset sought to. Any other record below
    ``next_offset`` means the log went back (:attr:`OffsetGap.backwards`).
    """

    def __init__(
        self,
        encoder: RecordEncoder,
        topic: str,
        partition: int,
        next_offset: int | None,
        max_records: int,
        max_bytes: int,
        *,
        resync: bool = False,
    ) -> None:
        self.encoder = encoder
        self.topic = topic
        self.partition = partition
        self.next_offset = _NO_OFFSET if next_offset is None else next_offset
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.records: list[bytes] = []
        """Each record's canonical bytes, in offset order."""
        self.size_bytes = 0
        self.flagged = 0
        self.started = 0.0
        self._resync = resync and next_offset is not None
        self._sought = self.next_offset if self._resync else _NOT_SOUGHT
        """The offset the consumer was sought to (``_NOT_SOUGHT``: none, or the records
        taken before the seek's fetch caught up have all come again)."""
        self._again_until = _NOT_SOUGHT
        """Records from ``_sought`` up to this offset may come a second time: those taken
        before the seek's fetch caught up (set when the pre-seek messages run out)."""
        self._first_offset = 0
        self._oldest = 2**63
        self._prefix = encoder.prefix(topic, partition)
        self._offset_high, self._offset_code = -1, b""
        self._stamp_high, self._stamp_code = -1, b""
        self.gap: OffsetGap | None = None
        """Set when the next record is not at :attr:`next_offset`: the batch takes nothing
        after the gap, since a block covers a contiguous range of offsets."""

    def fill(self, messages: Sequence[Message], start: int) -> int:
        """Add ``messages[start:]`` while they are records of this partition, until full.

        Returns the index of the first message not taken: one of another partition, an
        error, the first after the one that filled the batch, or the first after a gap in
        the offsets (:attr:`gap`).
        """
        records, add = self.records, self.records.append
        was_empty = not records
        topic, partition, prefix = self.topic, self.partition, self._prefix
        known, low, present, types = self.encoder.event_headers, _LOW, _PRESENT, _TIMESTAMP_TYPES
        call_headers = _call_headers
        expected, size, oldest, flagged = self.next_offset, self.size_bytes, self._oldest, 0
        offset_high, offset_code = self._offset_high, self._offset_code
        stamp_high, stamp_code = self._stamp_high, self._stamp_code
        max_records, max_bytes = self.max_records, self.max_bytes
        index, end = start, len(messages)
        while index < end:
            message = messages[index]
            if (
                message.partition() != partition
                or message.topic() != topic
                or message.error() is not None
            ):
                break
            index += 1
            offset: int = message.offset() or 0
            kind, stamp = message.timestamp()
            key, value = message.key(), message.value()
            headers: ReadHeaders | Literal[False] = False  # read only to encode (read_headers)
            data = b""
            if (
                offset == expected
                and offset >= 64
                and 0 < kind < 3
                and stamp >= 64
                and key is not None
                and value is not None
                and len(key) < _FAST_LENGTH
                and len(value) < _FAST_LENGTH
                and value[:HEADER_SIZE] in known
            ):
                try:  # read_headers, inlined: the hot loop
                    headers = call_headers(message)
                except (UnicodeDecodeError, SystemError) as exc:
                    headers = _unreadable(exc)
                if headers is None:
                    high = offset >> 6
                    if high != offset_high:
                        offset_high, offset_code = high, uvarint(high)
                    high = stamp >> 6
                    if high != stamp_high:
                        stamp_high, stamp_code = high, uvarint(high)
                    data = b"".join(
                        (
                            prefix,
                            low[offset & 63],
                            offset_code,
                            low[stamp & 63],
                            stamp_code,
                            types[kind],
                            present[len(key)],
                            key,
                            present[len(value)],
                            value,
                            _TRAILER,
                        )
                    )
                    if stamp < oldest:
                        oldest = stamp
            if not data:  # not the usual record: the general encoder
                if self._resync and offset != expected:
                    continue  # fetched before the seek to ``expected``: it comes again
                if expected != _NO_OFFSET and offset != expected:
                    if self._sought <= offset < min(expected, self._again_until):
                        continue  # taken already: delivered again after the seek
                    self.gap = OffsetGap(expected, offset)
                    index -= 1
                    break
                if headers is False:
                    headers = read_headers(message)
                record = self.encoder.encode(message, headers)
                data = record.data
                flagged += record.flagged
                if 0 <= record.timestamp < oldest:
                    oldest = record.timestamp
            if not records:
                self._first_offset = offset
            expected = offset + 1
            add(data)
            size += len(data)
            if len(records) >= max_records or size >= max_bytes:
                break
        self.next_offset, self.size_bytes, self._oldest = expected, size, oldest
        self.flagged += flagged
        self._offset_high, self._offset_code = offset_high, offset_code
        self._stamp_high, self._stamp_code = stamp_high, stamp_code
        if was_empty and records:
            self.started = time.monotonic()
            self._resync = False
        return index

    def end_resync(self) -> None:
        """The messages fetched before the last seek are all handled (a seek purges what
        librdkafka had prefetched, so later fetches start at ``next_offset``): from now on, an
        offset past it is a gap, not a stale message. Once a record past those taken before
        the seek's fetch caught up has been taken, none comes a second time: a record below
        ``next_offset`` is a rewind again."""
        self._resync = False
        if self._sought == _NOT_SOUGHT:
            return
        if self._again_until == _NOT_SOUGHT:
            self._again_until = self.next_offset
        elif self.next_offset > self._again_until:
            self._sought = _NOT_SOUGHT

    def full(self) -> bool:
        """Whether the batch reached its record or byte limit."""
        return len(self.records) >= self.max_records or self.size_bytes >= self.max_bytes

    def due(self, max_age_s: float) -> bool:
        """Whether the batch should be sealed now: full, or its oldest record is old enough."""
        if not self.records:
            return False
        return self.full() or time.monotonic() - self.started >= max_age_s

    def take(self) -> SealedBatch:
        """The records gathered so far (at least one), leaving the batch empty."""
        if not self.records:
            raise ValueError("an empty batch has nothing to seal")
        taken = SealedBatch(
            records=self.records,
            first_offset=self._first_offset,
            last_offset=self.next_offset - 1,
            size_bytes=self.size_bytes,
            flagged=self.flagged,
            oldest_ms=None if self._oldest == 2**63 else self._oldest,
        )
        self.clear()
        return taken

    def clear(self) -> None:
        """Forget every record (after sealing, or when another sealer won)."""
        self.records = []
        self.size_bytes = 0
        self.flagged = 0
        self._oldest = 2**63
