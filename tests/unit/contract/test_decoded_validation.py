"""The validator for decoded events finds exactly what the full validator finds.

``EventCodec.validate_decoded`` skips the checks fastavro's decoding has already made
(types, presence of fields). Any Avro-valid record, written and decoded again, must get the
same verdict from both: the same field path and reason when it breaks a rule Avro cannot
express (UUIDs, timestamps, ``int`` ranges, finite doubles, IPs, countries, coordinates,
score ranges, empty ids), and no error when it does not.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.contract import EventCodec, EventType
from riskseal.contract.codec import DecodedEvent
from riskseal.contract.events import Event
from riskseal.errors import InvalidEventError
from tests.unit.contract import strategies
from tests.unit.contract.test_validation import ACTION, ALERT, DECISION, REQUEST

CODEC = EventCodec()
EVENTS: dict[EventType, Event] = {
    EventType.ACCESS_REQUEST: REQUEST,
    EventType.ACCESS_ACTION: ACTION,
    EventType.DECISION: DECISION,
    EventType.ALERT: ALERT,
}


def _verdict(check: Any) -> tuple[str, str] | None:
    try:
        check()
    except InvalidEventError as error:
        return error.field_path, error.reason
    return None


def _both(event_type: EventType, record: dict[str, Any]) -> tuple[Any, Any]:
    """Write ``record`` without validating it, decode it, and run both validators."""
    decoded = CODEC.decode(CODEC.encode_valid(event_type, record))
    full = _verdict(lambda: CODEC.validate(event_type, decoded.record))
    fast = _verdict(lambda: CODEC.validate_decoded(decoded))
    return full, fast


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_avro_valid_record_gets_the_same_verdict(
    event_type: EventType, data: st.DataObject
) -> None:
    record = data.draw(strategies.avro_data(CODEC.schemas[event_type].declared))
    full, fast = _both(event_type, record)
    assert fast == full


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_valid_events_pass(event_type: EventType) -> None:
    decoded = CODEC.decode(CODEC.encode_event(EVENTS[event_type]))
    CODEC.validate_decoded(decoded)


def _request_with(**changes: Any) -> dict[str, Any]:
    record = REQUEST.to_record()
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = record
        for parent in parents:
            target = target[parent]
        target[name] = value
    return record


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"event_id": "not-a-uuid"}, "event_id", "is not a UUID"),
        ({"event_id": "0B7D1A4E-3C52-4F0E-9A51-6D2F1E9B8C70"}, "event_id", "lower-case"),
        ({"time": -1}, "time", "out of range for a timestamp"),
        ({"src_endpoint__ip": "999.1.1.1"}, "src_endpoint.ip", "not an IPv4 or IPv6"),
        ({"src_endpoint__location__lat": math.nan}, "src_endpoint.location.lat", "finite"),
        ({"src_endpoint__location__lon": 181.0}, "src_endpoint.location.lon", "outside"),
        ({"src_endpoint__location__country": "de"}, "src_endpoint.location.country", "ISO"),
        ({"actor__uid": ""}, "actor.uid", "must not be empty"),
        ({"source__seq": -3}, "source.seq", "is negative"),
    ],
)
def test_each_rule_avro_cannot_express_is_found_after_decoding(
    changes: dict[str, Any], path: str, reason: str
) -> None:
    full, fast = _both(EventType.ACCESS_REQUEST, _request_with(**changes))
    assert fast == full
    assert fast is not None and fast[0] == path and reason in fast[1], fast


def test_int_field_out_of_range_is_found_after_decoding() -> None:
    # fastavro reads an Avro int as a varint of any length; the range is checked here.
    record = DECISION.to_record()
    decoded = CODEC.decode(CODEC.encode_valid(EventType.DECISION, record))
    decoded.record["request_risk"] = 2**40
    full = _verdict(lambda: CODEC.validate(EventType.DECISION, decoded.record))
    fast = _verdict(
        lambda: CODEC.validate_decoded(
            DecodedEvent(decoded.event_type, decoded.fingerprint, decoded.record)
        )
    )
    assert fast == full
    assert fast is not None and fast[0] == "request_risk"
