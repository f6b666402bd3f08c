"""Decoding bytes that are not a good event: one named test per fault, then a fuzzer.

The consumer side (risk processor, sealer, auditor) must be able to tell "not one of our
events" (MalformedEventError, which keeps the raw bytes so the record can be sealed or
dead-lettered) from "one of our events, but of a schema version I do not know"
(UnknownSchemaError naming the fingerprint), and must never see a bare fastavro or Python error.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from riskseal.contract import (
    AccessRequest,
    Actor,
    EventCodec,
    EventType,
    Resource,
    SourceStamp,
    typed_event,
)
from riskseal.errors import MalformedEventError, UnknownSchemaError
from tests.unit.contract import strategies

CODEC = EventCodec()
EVENT = AccessRequest(
    event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
    time=1_790_000_000_123,
    source=SourceStamp("app-1", 1_790_000_000_000, 3),
    actor=Actor("alice", roles=("sales",)),
    action="data.read",
    resource=Resource("document", "q3"),
    attributes={"tenant": "acme"},
)
GOOD = CODEC.encode_event(EVENT)
FINGERPRINT = CODEC.schemas[EventType.ACCESS_REQUEST].fingerprint
HEADER = b"\xc3\x01" + FINGERPRINT
FINGERPRINTS = [schema.fingerprint for schema in CODEC.schemas]


def _malformed(data: bytes) -> MalformedEventError:
    with pytest.raises(MalformedEventError) as info:
        CODEC.decode(data)
    assert info.value.raw == data
    return info.value


def test_good_bytes_decode() -> None:
    assert typed_event(CODEC.decode(GOOD)) == EVENT
    assert GOOD[:10] == HEADER


def test_empty_bytes() -> None:
    error = _malformed(b"")
    assert "truncated single-object header: 0 bytes long" in str(error)


def test_wrong_magic() -> None:
    error = _malformed(b"\xc3\x02" + GOOD[2:])
    assert "starts with c302 (expected c301)" in str(error)


def test_json_instead_of_avro() -> None:
    error = _malformed(b'{"event_id": "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70"}')
    assert "starts with 7b22" in str(error)


@pytest.mark.parametrize("length", [1, 2, 9])
def test_truncated_header(length: int) -> None:
    error = _malformed(GOOD[:length])
    assert f"truncated single-object header: {length} bytes long" in str(error)


def test_unknown_fingerprint_is_named() -> None:
    foreign = bytes.fromhex("0123456789abcdef")
    data = b"\xc3\x01" + foreign + GOOD[10:]
    with pytest.raises(UnknownSchemaError) as info:
        CODEC.decode(data)
    assert info.value.raw == data  # kept, so it can be sealed or dead-lettered as it is
    message = str(info.value)
    assert "unknown schema fingerprint 0123456789abcdef" in message
    # ...and says which fingerprints it knows, so the operator can see the version skew.
    assert f"AccessRequest={FINGERPRINT.hex()}" in message


def test_fingerprint_in_wrong_byte_order_is_unknown() -> None:
    with pytest.raises(UnknownSchemaError):
        CODEC.decode(b"\xc3\x01" + FINGERPRINT[::-1] + GOOD[10:])


@pytest.mark.parametrize("cut", [1, 5, len(GOOD) - 11])
def test_truncated_body(cut: int) -> None:
    error = _malformed(GOOD[:-cut])
    assert "AccessRequest body does not decode" in str(error)
    assert isinstance(error.__cause__, EOFError)


def test_header_without_body() -> None:
    error = _malformed(HEADER)
    assert "AccessRequest body does not decode" in str(error)


@pytest.mark.parametrize("garbage", [b"\x00", b"\xc3\x01", GOOD])
def test_trailing_garbage(garbage: bytes) -> None:
    error = _malformed(GOOD + garbage)
    assert f"{len(garbage)} trailing bytes" in str(error)


def test_garbage_body() -> None:
    # 0xff 0xff ... : the event_id string length is a huge varint, far beyond the data.
    error = _malformed(HEADER + b"\xff" * 40)
    assert "AccessRequest body does not decode" in str(error)


def test_body_of_another_event_type() -> None:
    other = CODEC.schemas[EventType.ALERT].fingerprint
    _malformed(b"\xc3\x01" + other + GOOD[10:])


def test_invalid_utf8_in_a_string() -> None:
    # The actor's uid "alice" is the only "alice" in the body; make its first byte invalid.
    position = GOOD.index(b"alice")
    error = _malformed(GOOD[:position] + b"\xff" + GOOD[position + 1 :])
    assert isinstance(error.__cause__, UnicodeDecodeError)


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with one byte replaced, inserted or deleted, or cut short."""
    positions = st.integers(10, len(data) - 1)
    replaced = st.tuples(positions, st.integers(0, 255)).map(
        lambda pb: data[: pb[0]] + bytes([pb[1]]) + data[pb[0] + 1 :]
    )
    inserted = st.tuples(positions, st.binary(min_size=1, max_size=10)).map(
        lambda pb: data[: pb[0]] + pb[1] + data[pb[0] :]
    )
    deleted = positions.map(lambda p: data[:p] + data[p + 1 :])
    cut = positions.map(lambda p: data[:p])
    return replaced | inserted | deleted | cut


anything = st.binary(max_size=200)
header_and_garbage = st.builds(
    lambda fp, body: b"\xc3\x01" + fp + body, st.sampled_from(FINGERPRINTS), anything
)
mutated_events = strategies.events.map(CODEC.encode_event).flatmap(_mutations)


@settings(max_examples=1000, deadline=None)
@given(data=anything | header_and_garbage | mutated_events)
@example(data=b"")
@example(data=HEADER + b"\xff" * 10 + b"\x01")  # varint longer than 64 bits
@example(data=HEADER + b"\x01")  # negative string length
@example(data=GOOD[:-1] + b"\x7f")  # last map block count -64
@example(data=bytes(5 + 23))  # Confluent framing: an all-zero AccessRequest body decodes
def test_arbitrary_bytes_raise_only_contract_errors(data: bytes) -> None:
    confluent = data[:1] == b"\x00"  # Schema Registry framing: 00, 4-byte id, body
    try:
        decoded = CODEC.decode(data)
    except MalformedEventError as error:
        assert error.raw == data
    except UnknownSchemaError as error:
        assert error.raw == data
        if confluent:
            assert f"schema id {int.from_bytes(data[1:5], 'big')}" in str(error)
        else:
            assert data[2:10].hex() in str(error)
    else:
        # Whatever decodes is an event of a known type and builds its typed view.
        if confluent:
            assert decoded.fingerprint == CODEC.schemas[decoded.event_type].fingerprint
        else:
            assert decoded.fingerprint == data[2:10]
        typed_event(decoded)
