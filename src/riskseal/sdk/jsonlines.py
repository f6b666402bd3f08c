"""Reading events from JSON lines, the input format of ``riskseal emit``.

One JSON object per line: ``"kind"`` is ``"request"`` (an AccessRequest) or ``"action"``
(an AccessAction); the other keys are the event's fields as in ``docs/events.md``. The SDK
stamps ``source`` itself, so it must be absent. ``event_id`` and ``time`` default to a new
UUID and the current time, ``src_endpoint`` and ``auth`` to empty objects. Keys starting with
``_`` are not part of the event: ``_headers`` (object of strings) becomes Kafka headers and
``_truth`` the ``riskseal-truth`` header::

    {"kind": "request", "actor": {"uid": "alice"}, "action": "data.read",
     "resource": {"type": "document", "uid": "q3"}}
    {"kind": "action", "actor": {"uid": "bob"}, "action": "auth.login",
     "resource": {"type": "app", "uid": "crm"}, "outcome": "FAILURE", "_truth": "brute_force"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import AccessAction, AccessRequest, new_event_id, now_ms
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ContractError

KINDS = {"request": EventType.ACCESS_REQUEST, "action": EventType.ACCESS_ACTION}
PLACEHOLDER_SOURCE = {"source_id": "json-lines", "epoch": 0, "seq": 0}


class EventLineError(ValueError):
    """A line that is not a valid event; the message says where and why."""


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """An event read from one line, with the Kafka headers to send it with."""

    event: AccessRequest | AccessAction
    headers: dict[str, str]


def parse_event_line(raw: bytes, codec: EventCodec, *, fill_identity: bool = True) -> ParsedLine:
    """Parse one line; EventLineError names the field and the reason when it is not valid.

    A line without ``event_id`` or ``time`` gets a new id and the current time, as an event
    published now would; with ``fill_identity=False`` (a replay, which must give the same
    result every run) such a line is an error.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventLineError(f"not valid UTF-8 at byte {exc.start}: {exc.reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventLineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(document, dict):
        raise EventLineError(f"expected a JSON object, got {type(document).__name__}")
    kind = document.get("kind")
    if kind not in KINDS:
        raise EventLineError(f'"kind" must be "request" or "action", got {kind!r}')
    if "source" in document:
        raise EventLineError('"source" is stamped by the SDK; remove it from the line')
    if "" in document:
        raise EventLineError('empty key "": every key must name a field of the event')
    if not fill_identity:
        missing = [name for name in ("event_id", "time") if name not in document]
        if missing:
            raise EventLineError(
                f"no {' and no '.join(repr(name) for name in missing)}: a replay needs both on "
                "every line (without them every run would make up new ones)"
            )
    headers = _headers(document)
    record: dict[str, Any] = {
        "event_id": new_event_id(),
        "time": now_ms(),
        "src_endpoint": {},
        "auth": {},
        **{
            key: value
            for key, value in document.items()
            if key != "kind" and not key.startswith("_")
        },
        "source": dict(PLACEHOLDER_SOURCE),
    }
    event_type = KINDS[kind]
    try:
        # Encoding and decoding again fills every default the line left out.
        decoded = codec.decode(codec.encode(event_type, record))
    except ContractError as exc:
        raise EventLineError(str(exc)) from None
    event = typed_event(decoded)
    if not isinstance(event, AccessRequest | AccessAction):  # KINDS holds only these two
        raise EventLineError(f"{event_type.value} cannot be published with the SDK")
    return ParsedLine(event, headers)


def _headers(document: dict[str, Any]) -> dict[str, str]:
    headers = document.get("_headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise EventLineError('"_headers" must be an object of strings')
    if "" in headers:
        raise EventLineError('"_headers" has an empty name: Kafka headers need a name')
    truth = document.get("_truth")
    if truth is not None:
        if not isinstance(truth, str):
            raise EventLineError('"_truth" must be a string')
        headers = {**headers, "riskseal-truth": truth}
    unknown = sorted(
        key for key in document if key.startswith("_") and key not in ("_headers", "_truth")
    )
    if unknown:
        raise EventLineError(
            f"unknown key {unknown[0]!r} (only _headers and _truth may start with _)"
        )
    return headers
