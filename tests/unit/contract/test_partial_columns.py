"""The batch reader (``PartialDecoder.columns``) against ``PartialDecoder.keys``, event by event."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.avrobin import avro_bytes, zigzag
from riskseal.contract import EventCodec
from riskseal.contract.events import Event, SourceStamp
from riskseal.contract.partial import (
    _CHUNK,
    KeyColumns,
    PartialDecoder,
    _batch_pattern,
    decoded_long,
    decoded_string,
)
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ContractError
from tests.unit.contract import strategies

CODEC = EventCodec()
PARTIAL = PartialDecoder(CODEC)


def _rows(columns: KeyColumns) -> Counter[tuple[object, ...]]:
    fields = (
        columns.event_types, columns.event_ids, columns.source_ids,
        columns.epochs, columns.seqs, columns.request_ids,
    )  # fmt: skip
    assert len({len(field) for field in fields}) == 1
    return Counter(zip(*fields, strict=True))


def _one_by_one(values: list[bytes]) -> Counter[tuple[object, ...]]:
    """What ``keys`` reads from each value (no event: left out), encoded as the columns are."""
    keys = []
    for value in values:
        try:
            keys.append(PARTIAL.keys(value))
        except ContractError:
            continue
    return _rows(KeyColumns.of(keys))


def _damaged(data: bytes, where: int, byte: int, truncate: bool) -> bytes:
    damaged = bytearray(data)
    at = where % len(damaged)
    if truncate:
        del damaged[at:]
    else:
        damaged[at] = byte
    return bytes(damaged)


damage = st.tuples(st.integers(0, 2**16), st.integers(0, 255), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(strategies.events, max_size=8))
def test_columns_equal_keys_event_by_event(events: list[Event]) -> None:
    values = [CODEC.encode_event(event) for event in events]
    assert _rows(PARTIAL.columns(values)) == _one_by_one(values)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(strategies.events, st.none() | damage), min_size=1, max_size=6))
def test_damaged_events_give_what_keys_gives(items: list[tuple[Event, object]]) -> None:
    """Corrupted and truncated events: the batch reader takes exactly the keys ``keys`` takes
    (the same keys, or none when ``keys`` refuses the value)."""
    values = []
    for event, hurt in items:
        data = CODEC.encode_event(event)
        values.append(data if hurt is None else _damaged(data, *hurt))  # type: ignore[misc]
    assert _rows(PARTIAL.columns(values)) == _one_by_one(values)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_foreign_values_give_what_keys_gives(values: list[bytes]) -> None:
    assert _rows(PARTIAL.columns(values)) == _one_by_one(values)


@settings(max_examples=50, deadline=None)
@given(strategies.decisions, st.sampled_from([3, 4, 7]))
def test_invalid_utf8_in_a_read_string_goes_to_keys(event: Event, group: int) -> None:
    """A string the batch pattern matches, but not valid UTF-8 (event id, source id or
    request id): read as ``keys`` reads it (the full decoder decides), never as it stands."""
    data = CODEC.encode_event(event)
    found = PARTIAL._many(data)
    start, end = found.span(group) if found is not None else (0, 0)
    if end - start < 2:
        return  # an empty string, or one the pattern does not read
    damaged = data[: start + 1] + b"\xff" + data[start + 2 :]
    assert PARTIAL._many(damaged) is not None  # the pattern alone would take it
    assert _rows(PARTIAL.columns([damaged, data])) == _one_by_one([damaged, data])
    assert len(PARTIAL.columns([damaged])) == len(_one_by_one([damaged]))


@settings(max_examples=10, deadline=None)
@given(strategies.decisions)
def test_long_strings_go_to_keys(event: Event) -> None:
    """Strings of 64 bytes and more are outside the batch pattern; ``keys`` reads them."""
    long_source = SourceStamp("s" * 70, 3, 2**40)
    value = CODEC.encode_event(dataclasses.replace(event, source=long_source))
    assert PARTIAL._many(value) is None
    [row] = _rows(PARTIAL.columns([value]))
    assert row[2:5] == (avro_bytes(b"s" * 70), zigzag(3), zigzag(2**40))
    source_id, seq = row[2], row[4]
    assert isinstance(source_id, bytes) and isinstance(seq, bytes)
    assert decoded_string(source_id) == "s" * 70
    assert decoded_long(seq) == 2**40


@settings(max_examples=5, deadline=None)
@given(st.lists(strategies.access_requests, min_size=3, max_size=3))
def test_more_values_than_a_chunk(events: list[Event]) -> None:
    values = [CODEC.encode_event(event) for event in events] * (_CHUNK // 2 + 1)
    values.insert(_CHUNK - 1, b"not an event")
    columns = PARTIAL.columns(values)
    assert len(columns) == len(values) - 1
    assert _rows(columns) == _one_by_one(values)
    assert set(columns.event_types) == {EventType.ACCESS_REQUEST}


def test_the_batch_pattern_covers_every_single_pattern() -> None:
    """Every fingerprint the one-regex shortcut of ``keys`` knows, the batch pattern knows."""
    for fingerprint, single in PARTIAL._patterns.items():
        assert single is not None
        pattern = PARTIAL._many.__self__.pattern  # type: ignore[attr-defined]
        assert re.escape(fingerprint) in pattern
    assert _batch_pattern({})(b"\xc3\x01" + bytes(8)) is None


@settings(max_examples=100, deadline=None)
@given(strategies.events)
def test_the_batch_pattern_reads_what_the_single_one_reads(event: Event) -> None:
    value = CODEC.encode_event(event)
    single = PARTIAL._patterns[value[2:10]]
    assert single is not None
    one, many = single(value), PARTIAL._many(value)
    assert (one is None) == (many is None)
    if one is not None and many is not None:
        assert one.groups() == many.group(3, 4, 5, 6, 7) and one.end() == many.end()


@given(st.text(max_size=70), st.integers(-(2**63), 2**63 - 1))
def test_encoded_fields_decode_back(text: str, number: int) -> None:
    assert decoded_string(avro_bytes(text.encode())) == text
    assert decoded_long(zigzag(number)) == number
