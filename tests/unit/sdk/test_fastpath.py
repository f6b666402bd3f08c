"""The SDK's fast encoder writes exactly what the generic codec writes, and refuses the same."""

from __future__ import annotations

import pytest

from riskseal.avrobin import zigzag
from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    EventCodec,
    Location,
    Outcome,
    Resource,
    Sensitivity,
    SourceStamp,
)
from riskseal.contract.fastpath import FastEncoder
from riskseal.errors import ConfigError, EventTooLargeError, InvalidEventError

CODEC = EventCodec()
ACTOR = Actor("alice", name="Alice", roles=("sales", "admin"), groups=("emea",))
RESOURCE = Resource("document", "q3", owner="bob", sensitivity=Sensitivity.RESTRICTED)
ENDPOINT = Endpoint("2001:db8::1", Location(country="JP", city="Tokyo", lat=35.7, lon=139.7))


def _request(**changes: object) -> AccessRequest:
    fields: dict[str, object] = {
        "event_id": "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
        "time": 1_790_000_000_123,
        "source": SourceStamp("app-1", 1_790_000_000_000, 0),
        "actor": ACTOR,
        "action": "data.read",
        "resource": RESOURCE,
        "src_endpoint": ENDPOINT,
        "auth": AuthContext(is_mfa=True, auth_protocol="webauthn", mfa_time=1_789_999_999_000),
        "session_id": "s-9",
        "device_id": "d-1",
        "trace_id": "t-1",
        "attributes": {"tenant": "acme", "ü": "✓"},
    }
    fields.update(changes)
    return AccessRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("seq", [0, 1, 63, 64, 127, 128, 2**31, 2**62])
def test_request_bytes_equal_the_generic_codec(seq: int) -> None:
    request = _request(source=SourceStamp("app-1", 1_790_000_000_000, seq))
    encoder = FastEncoder("app-1", 1_790_000_000_000, 65_536)
    assert encoder.encode_request(request).with_seq(seq) == CODEC.encode_event(request)


def test_action_bytes_equal_the_generic_codec_with_optional_fields_empty() -> None:
    action = AccessAction(
        event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c71",
        time=0,
        source=SourceStamp("app-1", 5, 9),
        actor=Actor("bob"),
        action="auth.login",
        resource=Resource("app", "crm"),
        outcome=Outcome.FAILURE,
    )
    encoder = FastEncoder("app-1", 5, 65_536)
    assert encoder.encode_action(action).with_seq(9) == CODEC.encode_event(action)


def test_cached_sub_records_are_reused_and_still_correct() -> None:
    encoder = FastEncoder("app-1", 1_790_000_000_000, 65_536)
    first = encoder.encode_request(_request())
    again = encoder.encode_request(
        _request(actor=Actor("alice", "Alice", ("sales", "admin"), ("emea",)))
    )
    assert first == again


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"actor": Actor("")}, "actor.uid"),
        ({"actor": Actor("a", roles=("ok", 3))}, "actor.roles[1]"),  # type: ignore[arg-type]
        ({"src_endpoint": Endpoint("300.1.1.1")}, "src_endpoint.ip"),
        ({"src_endpoint": Endpoint(location=Location(lat=91.0))}, "src_endpoint.location.lat"),
        ({"resource": Resource("doc", "x\udcff")}, "resource.uid"),
        ({"event_id": "not-a-uuid"}, "event_id"),
        ({"time": -1}, "time"),
        ({"time": True}, "time"),
        ({"action": ""}, "action"),
        ({"session_id": b"bytes"}, "session_id"),
        ({"device_id": "d\udc80"}, "device_id"),
        ({"attributes": {"k": 1}}, "attributes['k']"),
    ],
)
def test_fast_encoder_refuses_what_the_validator_refuses(
    changes: dict[str, object], path: str
) -> None:
    request = _request(**changes)
    with pytest.raises(InvalidEventError) as generic:
        CODEC.encode_event(request)
    with pytest.raises(InvalidEventError) as fast:
        FastEncoder("app-1", 1, 65_536).encode_request(request)
    assert fast.value.field_path == generic.value.field_path == path


def test_fast_encoder_enforces_the_size_limit() -> None:
    with pytest.raises(EventTooLargeError):
        FastEncoder("app-1", 1, 512).encode_request(_request(attributes={"blob": "x" * 600}))


def test_empty_source_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="source id"):
        FastEncoder("", 1, 1_024)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (63, b"\x7e"),
        (64, b"\x80\x01"),
        (-65, b"\x81\x01"),
    ],
)
def test_zigzag_matches_the_avro_specification(value: int, encoded: bytes) -> None:
    assert zigzag(value) == encoded
