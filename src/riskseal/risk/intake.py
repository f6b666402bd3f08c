"""Turning input records into typed events, or into the reason they are refused.

Pure: no Kafka here. The agents call :func:`read_request` / :func:`read_action` on every
record and dead-letter what comes back as a :class:`~riskseal.risk.deadletter.Rejection`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import AccessAction, AccessRequest
from riskseal.contract.schemas_set import EventType
from riskseal.errors import InvalidEventError, MalformedEventError, UnknownSchemaError
from riskseal.risk.deadletter import DeadLetterReason, Rejection

Activity = TypeVar("Activity", AccessRequest, AccessAction)


def read_request(
    codec: EventCodec,
    key: bytes | None,
    value: bytes | None,
    arrival: RecordTime | None = None,
) -> AccessRequest | Rejection:
    """The AccessRequest in ``value`` (keyed by its user id), or why it is refused."""
    return _read(codec, key, value, EventType.ACCESS_REQUEST, AccessRequest, arrival=arrival)


def read_action(
    codec: EventCodec,
    key: bytes | None,
    value: bytes | None,
    arrival: RecordTime | None = None,
) -> AccessAction | Rejection:
    """The AccessAction in ``value`` (keyed by its user id), or why it is refused."""
    return _read(codec, key, value, EventType.ACCESS_ACTION, AccessAction, arrival=arrival)


@dataclass(frozen=True, slots=True)
class RecordTime:
    """A record's Kafka timestamp and how far ahead of it an event's time may be.

    The engine runs on event time: one event stamped in the future would move its user's
    windows, geo fix and risk clock ahead, and that user's on-time events would then look
    old. The SDK refuses such events (``sdk_max_future_skew_s``); this catches the ones
    other producers write, against the time Kafka gave the record (the producer's create
    time, or the broker's with ``message.timestamp.type=LogAppendTime``).
    """

    timestamp_ms: int
    """The record's Kafka timestamp; negative when it has none (nothing is checked)."""
    max_ahead_ms: int

    def ahead(self, event_time_ms: int) -> str | None:
        """Why an event of ``event_time_ms`` is too far ahead of the record, or None."""
        if self.timestamp_ms < 0 or event_time_ms - self.timestamp_ms <= self.max_ahead_ms:
            return None
        seconds = (event_time_ms - self.timestamp_ms) / 1000
        return (
            f"event time {event_time_ms} is {seconds:,.0f} s ahead of the record's Kafka "
            f"timestamp {self.timestamp_ms} (at most {self.max_ahead_ms / 1000:g} s, "
            "risk_max_event_ahead_s): the producer's clock or the event's time is wrong"
        )


def decode_action(codec: EventCodec, value: bytes | None) -> AccessAction | Rejection:
    """The AccessAction in ``value`` whatever its key (the per-IP stream is keyed by IP)."""
    return _read(codec, None, value, EventType.ACCESS_ACTION, AccessAction, check_key=False)


def _read(
    codec: EventCodec,
    key: bytes | None,
    value: bytes | None,
    expected: EventType,
    kind: type[Activity],
    *,
    check_key: bool = True,
    arrival: RecordTime | None = None,
) -> Activity | Rejection:
    if value is None:
        return Rejection(DeadLetterReason.MALFORMED, "record has no value")
    try:
        decoded = codec.decode(value)
    except MalformedEventError as exc:
        return Rejection(DeadLetterReason.MALFORMED, str(exc))
    except UnknownSchemaError as exc:
        return Rejection(DeadLetterReason.UNKNOWN_SCHEMA, str(exc))
    if decoded.event_type is not expected:
        return Rejection(
            DeadLetterReason.WRONG_TYPE,
            f"a {decoded.event_type.value} where a {expected.value} was expected",
        )
    try:
        codec.validate_decoded(decoded)
    except InvalidEventError as exc:
        return Rejection(DeadLetterReason.INVALID, str(exc))
    event = typed_event(decoded)
    if not isinstance(event, kind):  # pragma: no cover - EVENT_CLASSES maps types to classes
        raise TypeError(f"{expected.value} decoded to {type(event).__name__}")
    if check_key and key != event.actor.uid.encode():
        shown = key.decode(errors="replace") if key is not None else "no key"
        return Rejection(
            DeadLetterReason.KEY_MISMATCH,
            f"record key {shown!r} is not the actor's user id {event.actor.uid!r}",
        )
    if arrival is not None:
        ahead = arrival.ahead(event.time)
        if ahead is not None:
            return Rejection(DeadLetterReason.FUTURE_TIME, ahead)
    return event
