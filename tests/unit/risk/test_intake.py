"""Input records → typed events or the reason they are refused; dead-letter headers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskseal.contract.codec import MAGIC, EventCodec
from riskseal.contract.events import AccessAction, AccessRequest
from riskseal.contract.schemas_set import EventType
from riskseal.risk.deadletter import (
    HEADER_DETAIL,
    HEADER_REASON,
    MAX_DETAIL_BYTES,
    Coordinates,
    DeadLetterReason,
    Rejection,
    deadletter_headers,
    read_deadletter_headers,
)
from riskseal.risk.intake import RecordTime, decode_action, read_action, read_request
from tests.unit.risk.faust_harness import failed_login, request

CODEC = EventCodec()


def test_a_valid_request_keyed_by_its_user_is_read() -> None:
    sent = request("alice")
    assert read_request(CODEC, b"alice", CODEC.encode_event(sent)) == sent


def test_a_valid_action_keyed_by_its_user_is_read() -> None:
    sent = failed_login("alice", "192.0.2.1")
    assert read_action(CODEC, b"alice", CODEC.encode_event(sent)) == sent


def test_the_per_ip_stream_reads_actions_whatever_their_key() -> None:
    sent = failed_login("alice", "192.0.2.1")
    assert decode_action(CODEC, CODEC.encode_event(sent)) == sent


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        (None, DeadLetterReason.MALFORMED, "no value"),
        (b"", DeadLetterReason.MALFORMED, "truncated single-object header"),
        (b"{}", DeadLetterReason.MALFORMED, "starts with 7b7d"),
        (MAGIC + b"\x00" * 8, DeadLetterReason.UNKNOWN_SCHEMA, ""),
        (
            CODEC.encode_event(request("alice")) + b"\x00",
            DeadLetterReason.MALFORMED,
            "trailing bytes",
        ),
        (
            CODEC.encode_valid(
                EventType.ACCESS_REQUEST,
                replace(request("alice"), event_id="nope").to_record(),
            ),
            DeadLetterReason.INVALID,
            "event_id",
        ),
        (
            CODEC.encode_event(failed_login("alice", "192.0.2.1")),
            DeadLetterReason.WRONG_TYPE,
            "a AccessAction where a AccessRequest was expected",
        ),
    ],
    ids=["none", "empty", "json", "unknown-schema", "trailing", "invalid", "action"],
)
def test_refused_requests_name_the_reason(
    value: bytes | None, reason: DeadLetterReason, detail: str
) -> None:
    rejection = read_request(CODEC, b"alice", value)
    assert isinstance(rejection, Rejection)
    assert rejection.reason is reason
    assert detail in rejection.detail


def test_an_event_too_far_ahead_of_its_record_is_refused_and_one_on_time_is_read() -> None:
    event = request("alice")
    value = CODEC.encode_event(event)
    limit = RecordTime(event.time - 300_000, max_ahead_ms=300_000)  # exactly at the limit
    assert read_request(CODEC, b"alice", value, limit) == event
    late_record = RecordTime(event.time - 300_001, max_ahead_ms=300_000)
    refused = read_request(CODEC, b"alice", value, late_record)
    assert isinstance(refused, Rejection)
    assert refused.reason is DeadLetterReason.FUTURE_TIME
    assert "300 s ahead of the record's Kafka timestamp" in refused.detail
    action = failed_login("alice", "192.0.2.1")
    ahead = read_action(CODEC, b"alice", CODEC.encode_event(action), RecordTime(0, 0))
    assert isinstance(ahead, Rejection) and ahead.reason is DeadLetterReason.FUTURE_TIME


def test_a_record_without_a_timestamp_is_not_checked() -> None:
    event = request("alice")
    assert RecordTime(-1, 0).ahead(event.time + 10**9) is None
    assert read_request(CODEC, b"alice", CODEC.encode_event(event), RecordTime(-1, 0)) == event


def test_a_request_keyed_by_someone_else_is_refused() -> None:
    rejection = read_request(CODEC, b"bob", CODEC.encode_event(request("alice")))
    assert rejection == Rejection(
        DeadLetterReason.KEY_MISMATCH, "record key 'bob' is not the actor's user id 'alice'"
    )


@given(key=st.one_of(st.none(), st.binary(max_size=8)), value=st.one_of(st.none(), st.binary()))
def test_any_bytes_are_either_an_event_or_a_rejection_never_an_exception(
    key: bytes | None, value: bytes | None
) -> None:
    for read in (read_request, read_action):
        result = read(CODEC, key, value)
        assert isinstance(result, Rejection | AccessRequest | AccessAction)


@given(value=st.binary(min_size=1, max_size=64))
def test_bytes_behind_a_known_header_never_escape_as_exceptions(value: bytes) -> None:
    fingerprint = CODEC.schemas[EventType.ACCESS_REQUEST].fingerprint
    result = read_request(CODEC, b"alice", MAGIC + fingerprint + value)
    assert isinstance(result, Rejection | AccessRequest)


headers_strategy = st.lists(
    st.tuples(st.text(min_size=1, max_size=10), st.binary(max_size=10)), max_size=4
)


@given(
    reason=st.sampled_from(DeadLetterReason),
    detail=st.text(max_size=3000),
    topic=st.text(min_size=1, max_size=40),
    partition=st.integers(0, 10_000),
    offset=st.integers(0, 2**63 - 1),
    original=headers_strategy,
)
def test_deadletter_headers_round_trip_after_the_original_ones(
    reason: DeadLetterReason,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    original: list[tuple[str, bytes]],
) -> None:
    # Original headers that reuse our names would be shadowed by ours, which come last.
    headers = deadletter_headers(
        Rejection(reason, detail), Coordinates(topic, partition, offset), original
    )
    assert headers[: len(original)] == original
    rejection, source = read_deadletter_headers(headers)
    assert rejection.reason is reason
    assert source == Coordinates(topic, partition, offset)
    detail_bytes = dict(headers[len(original) :])[HEADER_DETAIL]
    assert len(detail_bytes) <= MAX_DETAIL_BYTES
    assert detail.encode().startswith(detail_bytes)
    assert rejection.detail == detail_bytes.decode()


def test_deadletter_headers_accept_a_mapping_and_none() -> None:
    source = Coordinates("t", 1, 2)
    rejection = Rejection(DeadLetterReason.INVALID, "x")
    assert deadletter_headers(rejection, source, {"a": b"1"})[0] == ("a", b"1")
    assert deadletter_headers(rejection, source)[0] == (HEADER_REASON, b"invalid")


def test_reading_headers_without_a_reason_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        read_deadletter_headers([("other", b"x")])
