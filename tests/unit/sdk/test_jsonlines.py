"""Parsing `riskseal emit` input lines: defaults, headers, and every way a line is bad."""

from __future__ import annotations

import json

import pytest

from riskseal.contract import AccessAction, AccessRequest, EventCodec, Outcome
from riskseal.sdk.jsonlines import EventLineError, parse_event_line

CODEC = EventCodec(max_event_bytes=4_096)
REQUEST = {
    "kind": "request",
    "actor": {"uid": "alice"},
    "action": "data.read",
    "resource": {"type": "document", "uid": "q3"},
}


def _line(document: object) -> bytes:
    return json.dumps(document).encode()


def test_minimal_request_gets_defaults() -> None:
    parsed = parse_event_line(_line(REQUEST), CODEC)
    assert isinstance(parsed.event, AccessRequest)
    assert parsed.event.actor.uid == "alice"
    assert parsed.event.src_endpoint.ip is None
    assert parsed.event.auth.is_mfa is False
    assert len(parsed.event.event_id) == 36
    assert parsed.headers == {}


def test_action_with_truth_and_headers() -> None:
    line = {
        **REQUEST,
        "kind": "action",
        "action": "auth.login",
        "outcome": "FAILURE",
        "status_detail": "bad_password",
        "_truth": "brute_force",
        "_headers": {"trace": "t1"},
    }
    parsed = parse_event_line(_line(line), CODEC)
    assert isinstance(parsed.event, AccessAction)
    assert parsed.event.outcome is Outcome.FAILURE
    assert parsed.headers == {"trace": "t1", "riskseal-truth": "brute_force"}


def test_given_event_id_and_time_are_kept() -> None:
    line = {**REQUEST, "event_id": "8a6e0804-2bd0-4672-b79d-d97027f9071a", "time": 1_700_000}
    parsed = parse_event_line(_line(line), CODEC)
    assert (parsed.event.event_id, parsed.event.time) == (line["event_id"], 1_700_000)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe{}", "not valid UTF-8 at byte 0"),
        (b"{nope", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (_line({**REQUEST, "kind": "alert"}), '"kind" must be "request" or "action"'),
        (_line({**REQUEST, "source": {}}), '"source" is stamped by the SDK'),
        (_line({**REQUEST, "_headers": {"a": 1}}), '"_headers" must be an object of strings'),
        (_line({**REQUEST, "_truth": 3}), '"_truth" must be a string'),
        (_line({**REQUEST, "_color": "red"}), "unknown key '_color'"),
        (_line({**REQUEST, "actor": {}}), "actor.uid: required field is missing"),
        (
            _line({**REQUEST, "resource": {"type": "d", "uid": 4}}),
            "resource.uid: expected a string",
        ),
        (_line({**REQUEST, "kind": "action"}), "outcome: required field is missing"),
        (_line({**REQUEST, "attributes": {"x": "y" * 5_000}}), "over the limit of 4096 bytes"),
    ],
)
def test_bad_line_is_reported_with_its_reason(raw: bytes, message: str) -> None:
    with pytest.raises(EventLineError) as refused:
        parse_event_line(raw, CODEC)
    assert message in str(refused.value)


def test_empty_key_is_reported_as_a_bad_line() -> None:
    with pytest.raises(EventLineError, match='empty key "": every key must name a field'):
        parse_event_line(_line({**REQUEST, "": 1}), CODEC)


def test_empty_header_name_is_reported_as_a_bad_line() -> None:
    with pytest.raises(EventLineError, match='"_headers" has an empty name'):
        parse_event_line(_line({**REQUEST, "_headers": {"": "x"}}), CODEC)
