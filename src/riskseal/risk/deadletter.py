"""Dead letters: input the risk workers cannot process, kept as it was sent.

A dead letter on ``risk.deadletter`` carries the original value bytes unchanged and the
original key; its headers are the original headers followed by the ones named here, which
say why it was rejected and where it came from, so an operator (and the sealer) can find the
record in its source topic::

    riskseal.dlq.reason     malformed | unknown_schema | invalid | wrong_type | key_mismatch
                            | engine_error
    riskseal.dlq.detail     the error message, UTF-8, at most MAX_DETAIL_BYTES
    riskseal.dlq.topic      the source topic
    riskseal.dlq.partition  the source partition, decimal
    riskseal.dlq.offset     the source offset, decimal
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HEADER_REASON = "riskseal.dlq.reason"
HEADER_DETAIL = "riskseal.dlq.detail"
HEADER_TOPIC = "riskseal.dlq.topic"
HEADER_PARTITION = "riskseal.dlq.partition"
HEADER_OFFSET = "riskseal.dlq.offset"
DEADLETTER_HEADERS = (HEADER_REASON, HEADER_DETAIL, HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET)

MAX_DETAIL_BYTES = 1_024
"""Longest reason detail kept in a header; longer messages are cut (UTF-8 safe)."""

HeaderList = list[tuple[str, bytes]]


class DeadLetterReason(enum.StrEnum):
    """Why a record was dead-lettered."""

    MALFORMED = "malformed"
    """The bytes are not a single-object encoded event (or there is no value at all)."""
    UNKNOWN_SCHEMA = "unknown_schema"
    """The header names a schema fingerprint this worker does not know."""
    INVALID = "invalid"
    """The event decodes but a field breaks the contract."""
    WRONG_TYPE = "wrong_type"
    """A valid event of another type than the topic carries (a Decision on access.requests)."""
    KEY_MISMATCH = "key_mismatch"
    """The record key is not the actor's user id: processing it would split the user's state."""
    FUTURE_TIME = "future_time"
    """The event's time is further ahead of the record's Kafka timestamp than allowed: it
    would move its user's state into the future (``RecordTime``)."""
    ENGINE_ERROR = "engine_error"
    """The risk engine failed on a valid event (a bug: the error is logged with its trace)."""


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Where a record was read: topic, partition and offset."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record refused by the workers, with the reason and a human-readable detail."""

    reason: DeadLetterReason
    detail: str


def deadletter_headers(
    rejection: Rejection,
    source: Coordinates,
    original: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None = None,
) -> HeaderList:
    """The headers of a dead letter: the original headers, then reason and coordinates."""
    if original is None:
        kept: HeaderList = []
    elif isinstance(original, Mapping):
        kept = list(original.items())
    else:
        kept = list(original)
    return [
        *kept,
        (HEADER_REASON, rejection.reason.value.encode()),
        (HEADER_DETAIL, _cut(rejection.detail)),
        (HEADER_TOPIC, source.topic.encode()),
        (HEADER_PARTITION, str(source.partition).encode()),
        (HEADER_OFFSET, str(source.offset).encode()),
    ]


def read_deadletter_headers(
    headers: Iterable[tuple[str, bytes | None]],
) -> tuple[Rejection, Coordinates]:
    """The reason and source coordinates written by :func:`deadletter_headers`.

    Raises KeyError when one of them is missing and ValueError when a number is not one.
    The last occurrence of a name wins, so forwarded dead letters report the newest hop.
    """
    found = {name: value or b"" for name, value in headers if name in DEADLETTER_HEADERS}
    rejection = Rejection(
        DeadLetterReason(found[HEADER_REASON].decode()), found[HEADER_DETAIL].decode()
    )
    source = Coordinates(
        found[HEADER_TOPIC].decode(),
        int(found[HEADER_PARTITION]),
        int(found[HEADER_OFFSET]),
    )
    return rejection, source


def _cut(text: str) -> bytes:
    data = text.encode()
    if len(data) <= MAX_DETAIL_BYTES:
        return data
    return data[:MAX_DETAIL_BYTES].decode(errors="ignore").encode()
