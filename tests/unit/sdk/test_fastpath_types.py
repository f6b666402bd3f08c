"""The fast encoder refuses values of the wrong Python type with InvalidEventError, and its
sub-record cache never accepts a value that a fresh encoder refuses."""

from __future__ import annotations

import enum

import pytest

from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    EventCodec,
    Location,
    Resource,
    SourceStamp,
)
from riskseal.contract.fastpath import FastEncoder
from riskseal.errors import InvalidEventError

CODEC = EventCodec()
EVENT_ID = "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70"


def _request(**changes: object) -> AccessRequest:
    fields: dict[str, object] = {
        "event_id": EVENT_ID,
        "time": 1_790_000_000_123,
        "source": SourceStamp("app-1", 1, 0),
        "actor": Actor("alice", roles=("sales",)),
        "action": "data.read",
        "resource": Resource("document", "q3"),
    }
    fields.update(changes)
    return AccessRequest(**fields)  # type: ignore[arg-type]


def _refusal(encoder: FastEncoder, request: AccessRequest) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as refused:
        encoder.encode_request(request)
    assert refused.value.event_type == "AccessRequest"
    return refused.value


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"actor": Actor("a", roles=["sales"])}, "actor.roles", "expected a tuple, got list"),  # type: ignore[arg-type]
        ({"actor": Actor("a", roles="sales")}, "actor.roles", "expected a tuple, got str"),  # type: ignore[arg-type]
        ({"actor": Actor("a", groups=["g"])}, "actor.groups", "expected a tuple, got list"),  # type: ignore[arg-type]
        ({"actor": "alice"}, "actor", "expected an Actor, got str"),
        ({"resource": None}, "resource", "expected a Resource, got NoneType"),
        ({"auth": {"is_mfa": True}}, "auth", "expected an AuthContext, got dict"),
        (
            {"src_endpoint": Endpoint(location={"lat": 1.0})},  # type: ignore[arg-type]
            "src_endpoint.location",
            "expected a Location or None, got dict",
        ),
        ({"action": ["data.read"]}, "action", "expected a string, got list"),
        ({"attributes": None}, "attributes", "expected a mapping, got null"),
    ],
)
def test_value_of_a_wrong_type_is_an_invalid_event(
    changes: dict[str, object], path: str, reason: str
) -> None:
    refused = _refusal(FastEncoder("app-1", 1, 65_536), _request(**changes))
    assert (refused.field_path, refused.reason[: len(reason)]) == (path, reason)


def test_roles_as_a_list_are_refused_even_when_an_equal_tuple_is_cached() -> None:
    encoder = FastEncoder("app-1", 1, 65_536)
    encoder.encode_request(_request(actor=Actor("a", roles=("sales",))))
    refused = _refusal(encoder, _request(actor=Actor("a", roles=["sales"])))  # type: ignore[arg-type]
    assert refused.field_path == "actor.roles"


def test_outcome_of_a_wrong_type_is_an_invalid_event() -> None:
    action = AccessAction(
        event_id=EVENT_ID,
        time=0,
        source=SourceStamp("app-1", 1, 0),
        actor=Actor("bob"),
        action="auth.login",
        resource=Resource("app", "crm"),
        outcome=["SUCCESS"],  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidEventError) as refused:
        FastEncoder("app-1", 1, 65_536).encode_action(action)
    assert refused.value.field_path == "outcome"


@pytest.mark.parametrize(
    ("valid", "invalid", "path"),
    [
        ({"auth": AuthContext(is_mfa=True)}, {"auth": AuthContext(is_mfa=1)}, "auth.is_mfa"),  # type: ignore[arg-type]
        ({"auth": AuthContext(is_mfa=False)}, {"auth": AuthContext(is_mfa=0)}, "auth.is_mfa"),  # type: ignore[arg-type]
        ({"auth": AuthContext(mfa_time=5)}, {"auth": AuthContext(mfa_time=5.0)}, "auth.mfa_time"),  # type: ignore[arg-type]
        (
            {"src_endpoint": Endpoint(location=Location(lat=1.0))},
            {"src_endpoint": Endpoint(location=Location(lat=True))},
            "src_endpoint.location.lat",
        ),
    ],
)
def test_cache_never_accepts_what_a_fresh_encoder_refuses(
    valid: dict[str, object], invalid: dict[str, object], path: str
) -> None:
    fresh = _refusal(FastEncoder("app-1", 1, 65_536), _request(**invalid))
    warm = FastEncoder("app-1", 1, 65_536)
    warm.encode_request(_request(**valid))
    assert _refusal(warm, _request(**invalid)).field_path == fresh.field_path == path


def test_action_of_a_str_subclass_is_refused_even_when_the_str_is_cached() -> None:
    class Action(enum.StrEnum):
        READ = "data.read"

    fresh = _refusal(FastEncoder("app-1", 1, 65_536), _request(action=Action.READ))
    warm = FastEncoder("app-1", 1, 65_536)
    warm.encode_request(_request(action="data.read"))
    assert _refusal(warm, _request(action=Action.READ)).field_path == fresh.field_path


def test_negative_zero_is_encoded_as_given_after_positive_zero() -> None:
    encoder = FastEncoder("app-1", 1, 65_536)
    for lat in (0.0, -0.0):
        request = _request(src_endpoint=Endpoint(location=Location(lat=lat)))
        assert encoder.encode_request(request).with_seq(0) == CODEC.encode_event(request)
