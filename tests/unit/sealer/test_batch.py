"""Batching: the fast record encoder gives exactly the canonical bytes, and the flag semantics
of docs/FORMAT.md §2; offsets are skipped, resynced and counted as the service expects."""

from __future__ import annotations

import io
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.block import SEALED_RECORD_SCHEMA, SealedRecord
from riskseal.contract import AccessRequest, Actor, EventCodec, Resource, SourceStamp
from riskseal.contract.codec import HEADER_SIZE, MAGIC
from riskseal.errors import ContractError
from riskseal.sealer.batch import (
    UNREADABLE_HEADERS,
    Batch,
    OffsetGap,
    RecordEncoder,
    read_headers,
)

TOPIC, PARTITION = "access.requests", 3
CODEC = EventCodec()
ENCODER = RecordEncoder(CODEC)
_SCHEMA = parse_schema(SEALED_RECORD_SCHEMA)
EVENT = CODEC.encode_event(
    AccessRequest(
        event_id="6f1c1e2a-0b7e-4d2a-9c3e-2f4b5a6c7d8e", time=1_800_000_000_000,
        source=SourceStamp("s", 1, 1),
        actor=Actor("u"), action="data.read", resource=Resource("doc", "d"),
    )
)  # fmt: skip
KNOWN_HEADERS = sorted(ENCODER.event_headers)


def message(
    offset: int,
    *,
    key: bytes | None = b"user-1",
    value: bytes | None = EVENT,
    headers: list[tuple[str, str | bytes | None]] | None = None,
    timestamp: tuple[int, int] = (1, 1_800_000_000_000),
    topic: str = TOPIC,
    partition: int = PARTITION,
) -> Message:
    """A consumed message as confluent-kafka builds it (its test constructor)."""
    return Message(
        topic=topic, partition=partition, offset=offset, key=key, value=value,
        headers=headers, timestamp=timestamp,
    )  # fmt: skip


def reference_flag(value: bytes | None) -> str | None:
    """The flag as docs/FORMAT.md §2 defines it, through the codec alone."""
    if value is None:
        return "no value (tombstone)"
    try:
        CODEC.schema_of(value)
    except ContractError as exc:
        return str(exc)[:500]
    return None


def expected_bytes(m: Message) -> bytes:
    """The canonical record, encoded by fastavro from the message's fields."""
    kind, stamp = m.timestamp()
    raw = m.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = tuple((name, v.encode() if isinstance(v, str) else v) for name, v in pairs)
    record = SealedRecord(
        topic=m.topic() or "", partition=m.partition() or 0, offset=m.offset() or 0,
        timestamp=stamp if kind else -1, timestamp_type=kind, key=m.key(), value=m.value(),
        headers=headers, flag=reference_flag(m.value()),
    )  # fmt: skip
    buffer = io.BytesIO()
    schemaless_writer(buffer, _SCHEMA, record.to_record())
    assert record.canonical_bytes() == buffer.getvalue()
    return buffer.getvalue()


def fill_all(batch: Batch, messages: list[Message]) -> None:
    index = 0
    while index < len(messages):
        index = batch.fill(messages, index)


def new_batch(next_offset: int | None = None, **limits: Any) -> Batch:
    return Batch(
        ENCODER, TOPIC, PARTITION, next_offset,
        limits.get("max_records", 10**9), limits.get("max_bytes", 10**12),
        resync=limits.get("resync", False),
    )  # fmt: skip


values = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.sampled_from(KNOWN_HEADERS).flatmap(lambda h: st.binary(max_size=60).map(h.__add__)),
    st.binary(min_size=8190, max_size=8194).map(lambda tail: EVENT[:HEADER_SIZE] + tail),
    st.just(MAGIC + b"\x00" * 8),
    st.just(MAGIC[:1]),
)
messages_spec = st.fixed_dictionaries(
    {
        "key": st.none() | st.binary(max_size=70) | st.binary(min_size=8191, max_size=8193),
        "value": values,
        "headers": st.none() | st.lists(st.tuples(st.text(max_size=5), st.none() | st.binary())),
        "timestamp": st.tuples(st.integers(0, 2), st.integers(0, 2**62)),
        # Rare gaps: the batch stops at the first one, and the runs before it must be long
        # enough to cross the encoder's cached offset and timestamp prefixes.
        "gap": st.sampled_from((0,) * 29 + (1, 2)),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**40), st.lists(messages_spec, min_size=1, max_size=80))
def test_every_record_is_encoded_exactly_as_fastavro_does(
    first: int, specs: list[dict[str, Any]]
) -> None:
    offset, messages, offsets = first, [], []
    for spec in specs:
        offset += spec.pop("gap")
        messages.append(message(offset, **spec))
        offsets.append(offset)
        offset += 1
    batch = new_batch()
    taken_up_to = batch.fill(messages, 0)
    # A block covers contiguous offsets: the batch takes the messages before the first gap.
    contiguous = messages[:taken_up_to]
    end = offsets[taken_up_to - 1] + 1
    assert offsets[:taken_up_to] == list(range(first_offset := offsets[0], end))
    if taken_up_to < len(messages):
        assert batch.gap == OffsetGap(end, offsets[taken_up_to])
    else:
        assert batch.gap is None
    assert batch.records == [expected_bytes(m) for m in contiguous]
    taken = batch.take()
    assert (taken.first_offset, taken.last_offset) == (first_offset, end - 1)
    assert taken.size_bytes == sum(map(len, taken.records))
    assert taken.flagged == sum(reference_flag(m.value()) is not None for m in contiguous)
    stamps = [m.timestamp()[1] for m in contiguous if m.timestamp()[0]]
    assert taken.oldest_ms == (min(stamps) if stamps else None)
    assert batch.records == [] and batch.next_offset == end


@settings(max_examples=200, deadline=None)
@given(values)
def test_the_flag_is_the_codecs_verdict(value: bytes | None) -> None:
    assert ENCODER.flag(value) == reference_flag(value)


def test_a_riskseal_event_is_not_flagged_and_a_foreign_value_is() -> None:
    assert ENCODER.flag(EVENT) is None
    assert ENCODER.flag(b"{}") == reference_flag(b"{}") is not None
    assert ENCODER.flag(MAGIC + b"\x01" * 8) == reference_flag(MAGIC + b"\x01" * 8) is not None
    assert ENCODER.flag(None) == "no value (tombstone)"


class _UnreadableHeaders(Message):
    """A message whose headers librdkafka's Python client cannot give: a producer wrote a
    header name that is not UTF-8, and ``headers()`` raises exactly this."""

    def headers(self) -> Any:
        raise UnicodeDecodeError("utf-8", b"bad\xffname", 3, 4, "invalid start byte")


def unreadable_headers(offset: int, value: bytes | None = EVENT) -> Message:
    return _UnreadableHeaders(
        topic=TOPIC, partition=PARTITION, offset=offset, key=b"user-1", value=value,
        timestamp=(1, 1_800_000_000_000),
    )  # fmt: skip


def decoded(data: bytes) -> SealedRecord:
    record = schemaless_reader(io.BytesIO(data), _SCHEMA, None)
    assert isinstance(record, dict)
    return SealedRecord.from_record(record)


def test_a_record_with_an_unreadable_header_name_is_sealed_without_headers_and_flagged() -> None:
    batch = new_batch(next_offset=100)
    fill_all(batch, [message(100), unreadable_headers(101), message(102)])
    taken = batch.take()
    assert (taken.first_offset, taken.last_offset, taken.flagged) == (100, 102, 1)
    assert taken.records[0] == expected_bytes(message(100))
    assert taken.records[2] == expected_bytes(message(102))
    record = decoded(taken.records[1])
    assert (record.offset, record.key, record.value, record.headers) == (101, b"user-1", EVENT, ())
    assert record.flag == f"{UNREADABLE_HEADERS} (invalid start byte at byte 3 of a name)"


def test_an_unreadable_header_name_is_added_to_the_values_own_flag() -> None:
    message = unreadable_headers(7, value=b"{}")
    record = decoded(ENCODER.encode(message, read_headers(message)).data)
    own = reference_flag(b"{}")
    assert own is not None and record.flag is not None and record.value == b"{}"
    assert record.flag.startswith(f"{own}; {UNREADABLE_HEADERS}")


class _PendingDecodeError(Message):
    """What confluent-kafka's ``headers()`` gives through a checked C call: a result with
    the decoding error still pending, which CPython turns into a SystemError caused by it."""

    def headers(self) -> Any:
        cause = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        raise SystemError("returned a result with an exception set") from cause


class _OtherSystemError(Message):
    def headers(self) -> Any:
        raise SystemError("something else")


def test_read_headers_takes_the_decoding_error_out_of_a_system_error_and_nothing_else() -> None:
    pending = _PendingDecodeError(topic=TOPIC, partition=PARTITION, offset=1, value=b"v")
    error = read_headers(pending)
    assert isinstance(error, UnicodeDecodeError) and error.reason == "invalid start byte"
    with pytest.raises(SystemError, match="something else"):
        read_headers(_OtherSystemError(topic=TOPIC, partition=PARTITION, offset=1, value=b"v"))
    assert read_headers(message(5, headers=[("h", b"v")])) == [("h", b"v")]


def test_headers_are_not_read_for_a_record_that_is_skipped_or_after_a_gap() -> None:
    class Counting(Message):
        reads = 0

        def headers(self) -> Any:
            Counting.reads += 1
            return None

    def counting(offset: int) -> Message:
        return Counting(topic=TOPIC, partition=PARTITION, offset=offset, key=b"k", value=EVENT,
                        timestamp=(1, 1_800_000_000_000))  # fmt: skip

    batch = new_batch(next_offset=100, resync=True)
    assert batch.fill([counting(99), counting(100)], 0) == 2  # 99: fetched before the seek
    batch.end_resync()
    assert batch.fill([counting(105)], 0) == 0
    assert batch.gap == OffsetGap(101, 105) and Counting.reads == 1


class _ReadOnce(Message):
    """A message whose headers may be read once: confluent-kafka's second read of a broken
    header list crashes the process."""

    reads = 0

    def headers(self) -> Any:
        _ReadOnce.reads += 1
        assert _ReadOnce.reads == 1, "headers() read twice"
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def test_headers_are_read_once_even_when_the_fast_path_looked_at_them_first() -> None:
    # offset, timestamp, key and value all fit the fast path: only the headers send it on
    once = _ReadOnce(topic=TOPIC, partition=PARTITION, offset=100, key=b"user-1", value=EVENT,
                     timestamp=(1, 1_800_000_000_000))  # fmt: skip
    batch = new_batch(next_offset=100)
    fill_all(batch, [once])
    assert _ReadOnce.reads == 1 and batch.take().flagged == 1


def test_records_taken_before_a_seek_caught_up_are_skipped_when_they_come_again() -> None:
    batch = new_batch(next_offset=100, resync=True)
    fill_all(batch, [message(o) for o in (99, 100, 101)])  # fetched before the seek
    batch.end_resync()
    fill_all(batch, [message(o) for o in (100, 101, 102)])  # the seek's own fetch
    assert batch.records == [expected_bytes(message(o)) for o in (100, 101, 102)]
    assert batch.gap is None and batch.next_offset == 103


def test_a_record_below_the_next_offset_without_a_seek_means_the_log_went_back() -> None:
    # Sealed up to 99, and Kafka now starts over (a topic created again, a truncated log, a
    # broker that lost its data): those offsets hold other records than the sealed ones.
    batch = new_batch(next_offset=100)
    fill_all(batch, [message(100)])
    assert batch.fill([message(0), message(1)], 0) == 0
    assert batch.gap == OffsetGap(101, 0) and batch.gap.backwards
    assert batch.records == [expected_bytes(message(100))]


def test_once_the_seek_caught_up_a_record_below_the_next_offset_is_a_rewind_again() -> None:
    batch = new_batch(next_offset=100, resync=True)
    fill_all(batch, [message(o) for o in (100, 101)])  # fetched before the seek
    batch.end_resync()
    fill_all(batch, [message(o) for o in (100, 101, 102)])  # the seek's fetch: 102 is new
    batch.end_resync()
    assert batch.fill([message(100)], 0) == 0  # a truncated log, even above the seek
    assert batch.gap == OffsetGap(103, 100) and batch.gap.backwards


def test_a_record_below_the_offset_sought_to_means_the_log_went_back() -> None:
    batch = new_batch(next_offset=100, resync=True)
    fill_all(batch, [message(100)])
    batch.end_resync()
    assert batch.fill([message(40)], 0) == 0
    assert batch.gap == OffsetGap(101, 40) and batch.gap.backwards


def test_after_a_seek_records_fetched_before_it_are_skipped_until_the_head_arrives() -> None:
    batch = new_batch(next_offset=100, resync=True)
    fill_all(batch, [message(o) for o in (140, 141, 100, 101)])
    assert batch.records == [expected_bytes(message(o)) for o in (100, 101)]
    assert batch.gap is None
    assert batch.fill([message(103)], 0) == 0  # resynced: a real gap now
    assert batch.gap == OffsetGap(102, 103)
    assert batch.next_offset == 102 and len(batch.records) == 2


def test_a_gap_in_the_offsets_ends_what_the_batch_takes_before_it() -> None:
    batch = new_batch(next_offset=100)
    run = [message(o) for o in (100, 101, 105, 106)]
    assert batch.fill(run, 0) == 2
    assert batch.gap == OffsetGap(102, 105)
    taken = batch.take()
    assert (taken.first_offset, taken.last_offset, len(taken.records)) == (100, 101, 2)


def test_a_gap_before_the_first_record_leaves_the_batch_empty() -> None:
    batch = new_batch(next_offset=100)
    assert batch.fill([message(101)], 0) == 0
    assert batch.gap == OffsetGap(100, 101) and batch.records == []


def test_a_new_chain_starts_at_whatever_offset_comes_first() -> None:
    batch = new_batch(next_offset=None)
    fill_all(batch, [message(40), message(41)])
    assert batch.gap is None and batch.take().first_offset == 40


def test_fill_stops_at_another_partition_an_error_and_a_full_batch() -> None:
    batch = new_batch(next_offset=200, max_records=4)
    other = message(7, partition=PARTITION + 1)
    error = Message(topic=TOPIC, partition=PARTITION, error=KafkaError(KafkaError._PARTITION_EOF))
    run = [message(200), message(201), other, message(202), error, message(203), message(204)]
    assert batch.fill(run, 0) == 2
    assert batch.fill(run, 3) == 4
    assert not batch.full()
    assert batch.fill(run, 5) == 6 and batch.full()
    assert batch.take().last_offset == 203


def test_a_batch_is_due_when_full_or_old() -> None:
    batch = new_batch(next_offset=0, max_bytes=1_024)
    assert not batch.due(0.0)
    fill_all(batch, [message(0)])
    assert batch.due(0.0) and not batch.due(3600)
    fill_all(batch, [message(o, value=EVENT + bytes(200)) for o in range(1, 10)])
    assert batch.full() and batch.due(3600)


def test_an_empty_batch_cannot_be_taken() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        new_batch().take()
