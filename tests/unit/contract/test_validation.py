"""One test per way an event can break the contract, each naming the exact field path.

Every test starts from a valid record, breaks one thing, and checks that ``EventCodec.encode``
(the path every producer takes) refuses it with ``InvalidEventError`` naming the field and the
reason, before a single byte is written.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings

from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    Alert,
    Analytic,
    AuthContext,
    Decision,
    Endpoint,
    EventCodec,
    EventType,
    Evidence,
    Location,
    Outcome,
    Reason,
    Resource,
    RiskLevel,
    Sensitivity,
    Severity,
    SourceStamp,
    Verdict,
    Versions,
)
from riskseal.contract.validation import MAX_TIMESTAMP_MS
from riskseal.errors import EventTooLargeError, InvalidEventError
from tests.unit.contract import strategies

CODEC = EventCodec()
ID_1 = "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70"
ID_2 = "5f2c9e61-8d1b-4a37-b0c4-2e9a7f3d1c85"
SOURCE = SourceStamp("app-1", 1_790_000_000_000, 41)

REQUEST = AccessRequest(
    event_id=ID_1,
    time=1_790_000_000_123,
    source=SOURCE,
    actor=Actor("alice", name="Alice", roles=("sales", "manager"), groups=("emea",)),
    action="data.read",
    resource=Resource("document", "q3", owner="bob", sensitivity=Sensitivity.CONFIDENTIAL),
    src_endpoint=Endpoint("203.0.113.7", Location("DE", "Berlin", 52.52, 13.4)),
    auth=AuthContext(is_mfa=True, auth_protocol="webauthn", mfa_time=1_789_999_000_000),
    session_id="s-1",
    attributes={"tenant": "acme"},
)
ACTION = AccessAction(
    event_id=ID_2,
    time=1_790_000_000_456,
    source=SOURCE,
    actor=Actor("alice"),
    action="auth.login",
    resource=Resource("app", "sso"),
    outcome=Outcome.FAILURE,
    status_detail="bad_password",
)
DECISION = Decision(
    event_id=ID_2,
    time=1_790_000_000_123,
    source=SourceStamp("risk-worker-0", 1_789_000_000_000, 7),
    request_id=ID_1,
    user_id="alice",
    verdict=Verdict.STEP_UP,
    request_risk=55,
    user_risk=30,
    risk_level=RiskLevel.MEDIUM,
    versions=Versions("0.1.0", "sha256:aa", "sha256:bb", "sha256:cc"),
    reasons=(Reason("new_country", "DE", 25, threshold=None),),
    policy_ids=("step-up-restricted",),
)
ALERT = Alert(
    event_id=ID_2,
    time=1_790_000_000_123,
    source=SourceStamp("risk-worker-0", 1_789_000_000_000, 8),
    user_id="alice",
    title="Impossible travel",
    analytic=Analytic("impossible_travel", "Impossible travel", "sha256:aa"),
    severity=Severity.HIGH,
    risk_score=80,
    risk_level=RiskLevel.HIGH,
    evidences=(Evidence("country", "DE", ID_1),),
    request_ids=(ID_1,),
)


def _request() -> dict[str, Any]:
    return copy.deepcopy(REQUEST.to_record())


def _refused(event_type: EventType, record: dict[str, Any]) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as info:
        CODEC.encode(event_type, record)
    assert info.value.event_type == event_type.value
    return info.value


def _assert_refused(
    event_type: EventType, record: dict[str, Any], path: str, reason_fragment: str
) -> None:
    error = _refused(event_type, record)
    assert error.field_path == path
    assert reason_fragment in error.reason, error.reason
    assert f"{path}: " in str(error)


# --- the base records are valid, so each test breaks exactly one thing --------------------


@pytest.mark.parametrize(
    "event", [REQUEST, ACTION, DECISION, ALERT], ids=lambda e: type(e).__name__
)
def test_base_events_are_valid(event: AccessRequest | AccessAction | Decision | Alert) -> None:
    assert CODEC.decode(CODEC.encode_event(event)).record == event.to_record()


@settings(max_examples=100, deadline=None)
@given(event=strategies.events)
def test_generated_events_are_valid(
    event: AccessRequest | AccessAction | Decision | Alert,
) -> None:
    CODEC.encode_event(event)


# --- missing fields -----------------------------------------------------------------------


def test_missing_required_top_level_field() -> None:
    record = _request()
    del record["action"]
    _assert_refused(EventType.ACCESS_REQUEST, record, "action", "required field is missing")


def test_missing_required_nested_field() -> None:
    record = _request()
    del record["resource"]["uid"]
    _assert_refused(EventType.ACCESS_REQUEST, record, "resource.uid", "required field is missing")


def test_missing_required_field_of_decision_versions() -> None:
    record = copy.deepcopy(DECISION.to_record())
    del record["versions"]["rules"]
    _assert_refused(EventType.DECISION, record, "versions.rules", "required field is missing")


def test_missing_field_with_default_is_filled_in() -> None:
    record = _request()
    for optional in ("session_id", "device_id", "trace_id", "attributes"):
        del record[optional]
    del record["resource"]["sensitivity"]
    decoded = CODEC.decode(CODEC.encode(EventType.ACCESS_REQUEST, record)).record
    assert (decoded["session_id"], decoded["attributes"]) == (None, {})
    assert decoded["resource"]["sensitivity"] == "INTERNAL"


# --- wrong types --------------------------------------------------------------------------


def test_string_where_int_expected() -> None:
    record = copy.deepcopy(DECISION.to_record())
    record["request_risk"] = "55"
    _assert_refused(EventType.DECISION, record, "request_risk", "expected an integer, got str")


def test_int_where_string_expected() -> None:
    record = _request()
    record["actor"]["uid"] = 42
    _assert_refused(EventType.ACCESS_REQUEST, record, "actor.uid", "expected a string, got int")


def test_bool_where_int_expected() -> None:
    record = _request()
    record["source"]["seq"] = True
    _assert_refused(EventType.ACCESS_REQUEST, record, "source.seq", "expected an integer, got bool")


def test_float_where_int_expected() -> None:
    record = copy.deepcopy(ALERT.to_record())
    record["risk_score"] = 80.0
    _assert_refused(EventType.ALERT, record, "risk_score", "expected an integer, got float")


def test_bytes_where_string_expected() -> None:
    record = _request()
    record["action"] = b"data.read"
    _assert_refused(EventType.ACCESS_REQUEST, record, "action", "expected a string, got bytes")


def test_string_where_record_expected() -> None:
    record = _request()
    record["actor"] = "alice"
    _assert_refused(EventType.ACCESS_REQUEST, record, "actor", "expected an object, got str")


def test_null_where_required_string_expected() -> None:
    record = _request()
    record["resource"]["type"] = None
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "resource.type", "expected a string, got null"
    )


def test_event_that_is_not_an_object() -> None:
    error = _refused(EventType.ACCESS_REQUEST, ["not", "a", "record"])  # type: ignore[arg-type]
    assert error.field_path == "(event)"
    assert "expected an object, got list" in error.reason


# --- unknown fields -----------------------------------------------------------------------


def test_unknown_top_level_field_typo() -> None:
    record = _request()
    record["sesion_id"] = record.pop("session_id")
    _assert_refused(EventType.ACCESS_REQUEST, record, "sesion_id", "unknown field")


def test_unknown_nested_field_typo() -> None:
    record = _request()
    record["actor"]["nmae"] = record["actor"].pop("name")
    _assert_refused(EventType.ACCESS_REQUEST, record, "actor.nmae", "unknown field")


def test_unknown_field_error_lists_the_known_fields() -> None:
    record = _request()
    record["src_endpoint"]["location"]["country_code"] = "DE"
    error = _refused(EventType.ACCESS_REQUEST, record)
    assert error.field_path == "src_endpoint.location.country_code"
    assert "a Location has: city, country, lat, lon" in error.reason


# --- semantic rules -----------------------------------------------------------------------


def test_bad_uuid() -> None:
    record = _request()
    record["event_id"] = "not-a-uuid"
    _assert_refused(EventType.ACCESS_REQUEST, record, "event_id", "is not a UUID")


def test_upper_case_uuid() -> None:
    record = copy.deepcopy(DECISION.to_record())
    record["request_id"] = ID_1.upper()
    _assert_refused(EventType.DECISION, record, "request_id", "is not a lower-case hyphenated UUID")


def test_uuid_without_hyphens() -> None:
    record = copy.deepcopy(ALERT.to_record())
    record["request_ids"] = [ID_1.replace("-", "")]
    _assert_refused(
        EventType.ALERT, record, "request_ids[0]", "is not a lower-case hyphenated UUID"
    )


def test_bad_ip() -> None:
    record = _request()
    record["src_endpoint"]["ip"] = "300.1.1.1"
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "src_endpoint.ip", "is not an IPv4 or IPv6 address"
    )


@pytest.mark.parametrize("country", ["de", "DEU", "D", "D1"])
def test_bad_country(country: str) -> None:
    record = _request()
    record["src_endpoint"]["location"]["country"] = country
    _assert_refused(
        EventType.ACCESS_REQUEST,
        record,
        "src_endpoint.location.country",
        "is not an ISO 3166-1 alpha-2 code",
    )


def test_latitude_out_of_range() -> None:
    record = _request()
    record["src_endpoint"]["location"]["lat"] = 90.5
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "src_endpoint.location.lat", "90.5 is outside -90..90"
    )


def test_longitude_out_of_range() -> None:
    record = _request()
    record["src_endpoint"]["location"]["lon"] = -180.01
    _assert_refused(
        EventType.ACCESS_REQUEST,
        record,
        "src_endpoint.location.lon",
        "-180.01 is outside -180..180",
    )


def test_nan_coordinate() -> None:
    record = _request()
    record["src_endpoint"]["location"]["lon"] = math.nan
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "src_endpoint.location.lon", "is not a finite number"
    )


def test_huge_integer_coordinate() -> None:
    record = _request()
    record["src_endpoint"]["location"]["lat"] = 10**400
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "src_endpoint.location.lat", "too large for a double"
    )


def test_lone_surrogate_is_not_utf8() -> None:
    record = _request()
    record["actor"]["name"] = "Al\udcffice"
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "actor.name", "not valid UTF-8: surrogates not allowed"
    )


def test_enum_symbol_not_allowed() -> None:
    record = _request()
    record["resource"]["sensitivity"] = "SECRET"
    _assert_refused(
        EventType.ACCESS_REQUEST,
        record,
        "resource.sensitivity",
        "'SECRET' is not one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED",
    )


def test_enum_symbol_is_case_sensitive() -> None:
    record = copy.deepcopy(ACTION.to_record())
    record["outcome"] = "failure"
    _assert_refused(EventType.ACCESS_ACTION, record, "outcome", "'failure' is not one of")


def test_array_item_of_wrong_type() -> None:
    record = _request()
    record["actor"]["roles"] = ["sales", 7]
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "actor.roles[1]", "expected a string, got int"
    )


def test_array_of_records_names_the_item_field() -> None:
    record = copy.deepcopy(DECISION.to_record())
    record["reasons"][0]["points"] = 101
    _assert_refused(EventType.DECISION, record, "reasons[0].points", "101 is outside 0..100")


def test_map_value_of_wrong_type() -> None:
    record = _request()
    record["attributes"] = {"tenant": "acme", "retries": 3}
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "attributes['retries']", "expected a string, got int"
    )


def test_map_key_of_wrong_type() -> None:
    record = _request()
    record["attributes"] = {7: "seven"}
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "attributes{key 7}", "expected a string, got int"
    )


def test_score_over_100() -> None:
    record = copy.deepcopy(DECISION.to_record())
    record["user_risk"] = 101
    _assert_refused(EventType.DECISION, record, "user_risk", "101 is outside 0..100")


def test_negative_score() -> None:
    record = copy.deepcopy(ALERT.to_record())
    record["risk_score"] = -1
    _assert_refused(EventType.ALERT, record, "risk_score", "-1 is outside 0..100")


def test_negative_seq() -> None:
    record = _request()
    record["source"]["seq"] = -1
    _assert_refused(EventType.ACCESS_REQUEST, record, "source.seq", "-1 is negative")


def test_negative_epoch() -> None:
    record = _request()
    record["source"]["epoch"] = -5
    _assert_refused(EventType.ACCESS_REQUEST, record, "source.epoch", "-5 is negative")


def test_seq_beyond_avro_long() -> None:
    record = _request()
    record["source"]["seq"] = 2**63
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "source.seq", "is out of range for an Avro long"
    )


def test_timestamp_after_year_9999() -> None:
    record = _request()
    record["time"] = MAX_TIMESTAMP_MS + 1
    _assert_refused(
        EventType.ACCESS_REQUEST, record, "time", "out of range for a timestamp in ms since 1970"
    )


def test_timestamp_before_1970() -> None:
    record = _request()
    record["auth"]["mfa_time"] = -1
    _assert_refused(
        EventType.ACCESS_REQUEST,
        record,
        "auth.mfa_time",
        "out of range for a timestamp in ms since 1970",
    )


def test_timestamp_bounds_are_inclusive() -> None:
    for time in (0, MAX_TIMESTAMP_MS):
        record = _request()
        record["time"] = time
        CODEC.encode(EventType.ACCESS_REQUEST, record)


def test_empty_user_id() -> None:
    record = _request()
    record["actor"]["uid"] = ""
    _assert_refused(EventType.ACCESS_REQUEST, record, "actor.uid", "must not be empty")


def test_empty_source_id() -> None:
    record = _request()
    record["source"]["source_id"] = ""
    _assert_refused(EventType.ACCESS_REQUEST, record, "source.source_id", "must not be empty")


@pytest.mark.parametrize(
    ("event_type", "event"), [(EventType.DECISION, DECISION), (EventType.ALERT, ALERT)]
)
def test_empty_user_id_of_decision_and_alert(
    event_type: EventType, event: Decision | Alert
) -> None:
    record = copy.deepcopy(event.to_record())
    record["user_id"] = ""
    _assert_refused(event_type, record, "user_id", "must not be empty")


# --- size limit ---------------------------------------------------------------------------


def test_event_too_large_names_size_and_limit() -> None:
    codec = EventCodec(max_event_bytes=1_024)
    big = dataclasses.replace(REQUEST, attributes={"blob": "x" * 2_000})

    with pytest.raises(EventTooLargeError) as info:
        codec.encode_event(big)

    error = info.value
    assert error.event_type == "AccessRequest"
    assert error.limit == 1_024
    assert error.size == len(EventCodec().encode_event(big))
    assert error.size > 2_000
    assert f"{error.size} bytes" in str(error)
    assert "1024 bytes" in str(error)


def test_size_limit_is_inclusive() -> None:
    size = len(CODEC.encode_event(REQUEST))
    assert EventCodec(max_event_bytes=size).encode_event(REQUEST) == CODEC.encode_event(REQUEST)
    with pytest.raises(EventTooLargeError) as info:
        EventCodec(max_event_bytes=size - 1).encode_event(REQUEST)
    assert (info.value.size, info.value.limit) == (size, size - 1)
