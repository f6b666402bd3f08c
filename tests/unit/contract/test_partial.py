"""The partial event reader against the full decoder: the same keys for every event."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.avrobin import zigzag
from riskseal.contract import EventCodec
from riskseal.contract.codec import HEADER_SIZE
from riskseal.contract.events import Event
from riskseal.contract.partial import PartialDecoder, keys_of_decoded
from riskseal.errors import ContractError
from tests.unit.contract import strategies

CODEC = EventCodec()
PARTIAL = PartialDecoder(CODEC)


def test_every_schema_has_a_reading_plan() -> None:
    assert all(plan is not None for plan in PARTIAL._plans.values())
    assert len(PARTIAL._plans) == len(list(CODEC.schemas))
    assert all(pattern is not None for pattern in PARTIAL._patterns.values())  # the fast shape


@settings(max_examples=200, deadline=None)
@given(strategies.events)
def test_the_plan_alone_gives_the_same_keys(event: Event) -> None:
    """Without the one-regex shortcut (long strings take this way too)."""
    data = CODEC.encode_event(event)
    plain = PartialDecoder(CODEC)
    plain._patterns.clear()
    assert plain.keys(data) == keys_of_decoded(CODEC, data)


@settings(max_examples=300, deadline=None)
@given(strategies.events)
def test_keys_equal_the_full_decoders(event: Event) -> None:
    data = CODEC.encode_event(event)
    keys = PARTIAL.keys(data)
    assert keys == keys_of_decoded(CODEC, data)
    assert (keys.event_id, keys.source_id, keys.epoch, keys.seq) == (
        event.event_id, event.source.source_id, event.source.epoch, event.source.seq,
    )  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(strategies.events, st.integers(0, 2**16), st.integers(0, 255), st.booleans())
def test_damaged_events_never_give_other_keys(
    event: Event, where: int, byte: int, truncate: bool
) -> None:
    data = bytearray(CODEC.encode_event(event))
    at = where % len(data)
    if truncate:
        del data[at:]
    else:
        data[at] = byte
    damaged = bytes(data)
    try:
        expected = keys_of_decoded(CODEC, damaged)
    except ContractError as exc:
        # the full decoder refuses: the partial reader refuses too, or (damage after the
        # fields it reads) gives keys; never another error type
        try:
            PARTIAL.keys(damaged)
        except ContractError as partial_exc:
            assert type(partial_exc) is type(exc) or at < HEADER_SIZE
        return
    assert PARTIAL.keys(damaged) == expected


@settings(max_examples=20, deadline=None)
@given(strategies.decisions)
def test_damaged_header_is_refused_like_the_full_decoder(event: Event) -> None:
    data = CODEC.encode_event(event)
    for damaged in (data[:5], b"\x00" + data[1:], data[:2] + bytes(8) + data[10:]):
        with pytest.raises(ContractError) as full:
            CODEC.decode(damaged)
        with pytest.raises(type(full.value)):
            PARTIAL.keys(damaged)


@settings(max_examples=20, deadline=None)
@given(strategies.access_requests)
def test_non_minimal_varint_goes_to_the_full_decoder(event: Event) -> None:
    data = CODEC.encode_event(event)
    event_id = event.event_id.encode()
    at = data.index(zigzag(len(event_id)) + event_id)
    padded = data[:at] + bytes([zigzag(len(event_id))[0] | 0x80, 0]) + data[at + 1 :]
    assert PARTIAL.keys(padded) == keys_of_decoded(CODEC, padded)


@settings(max_examples=20, deadline=None)
@given(strategies.access_requests)
def test_damage_after_the_read_fields_is_not_seen(event: Event) -> None:
    """Documented limit: the rest of the body is not decoded."""
    data = CODEC.encode_event(event)
    damaged = data[:-1]  # the attributes map loses its end
    with pytest.raises(ContractError):
        CODEC.decode(damaged)
    assert PARTIAL.keys(damaged).event_id
