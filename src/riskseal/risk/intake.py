"""Turning input records into typed events, or into the reason they are refused.

Pure: no Kafka here. The agents call :func:`read_request` / :func:`read_action` on every
record and dead-letter what comes back as a :class:`~riskseal.risk.deadletter.Rejection`.
"""

from __future__ import annotations

from typing import TypeVar

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import AccessAction, AccessRequest
from riskseal.contract.schemas_set import EventType
from riskseal.errors import InvalidEventError, MalformedEventError, UnknownSchemaError
from riskseal.risk.deadletter import DeadLetterReason, Rejection

Activity = TypeVar("Activity", AccessRequest, AccessAction)


def read_request(
    codec: EventCodec, key: bytes | None, value: bytes | None
) -> AccessRequest | Rejection:
    """The AccessRequest in ``value`` (keyed by its user id), or why it is refused."""
    return _read(codec, key, value, EventType.ACCESS_REQUEST, AccessRequest)


def read_action(
    codec: EventCodec, key: bytes | None, value: bytes | None
) -> AccessAction | Rejection:
    """The AccessAction in ``value`` (keyed by its user id), or why it is refused."""
    return _read(codec, key, value, EventType.ACCESS_ACTION, AccessAction)


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
    return event
