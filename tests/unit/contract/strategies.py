"""Hypothesis strategies for the event contract.

Two kinds:

- typed events (``access_requests``, ``access_actions``, ``decisions``, ``alerts``) that are
  VALID under ``riskseal.contract.validation``: lower-case hyphenated UUIDs, IPv4/IPv6
  addresses, two-letter upper-case countries, coordinates in range, scores 0..100, non-empty
  ids, non-negative sequence numbers, timestamps 0..MAX_TIMESTAMP_MS, text of any Unicode
  scalar value (no lone surrogates, which are not UTF-8);
- ``avro_data(schema)``: data for ANY expanded Avro schema, built from the schema alone, for
  the schema-evolution tests (old writer schemas have no typed class).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    Alert,
    Analytic,
    AuthContext,
    Decision,
    Endpoint,
    Event,
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
from riskseal.contract.validation import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, MAX_TIMESTAMP_MS

# Any Unicode scalar value: codec="utf-8" leaves out the surrogates U+D800..U+DFFF.
CHARACTERS = st.characters(codec="utf-8")
texts = st.text(CHARACTERS, max_size=12)
non_empty_texts = st.text(CHARACTERS, min_size=1, max_size=12)
optional_texts = st.none() | texts
uuids = st.uuids().map(str)
timestamps = st.integers(0, MAX_TIMESTAMP_MS)
non_negative_longs = st.integers(0, LONG_MAX)
scores = st.integers(0, 100)
ips = (st.ip_addresses(v=4) | st.ip_addresses(v=6)).map(str)
countries = st.text(string.ascii_uppercase, min_size=2, max_size=2)
string_maps = st.dictionaries(texts, texts, max_size=3)


def _tuples(elements: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[Any]:
    return st.lists(elements, max_size=max_size).map(tuple)


source_stamps = st.builds(
    SourceStamp, source_id=non_empty_texts, epoch=non_negative_longs, seq=non_negative_longs
)
actors = st.builds(
    Actor,
    uid=non_empty_texts,
    name=optional_texts,
    roles=_tuples(texts),
    groups=_tuples(texts),
)
locations = st.builds(
    Location,
    country=st.none() | countries,
    city=optional_texts,
    lat=st.none() | st.floats(-90, 90),
    lon=st.none() | st.floats(-180, 180),
)
endpoints = st.builds(Endpoint, ip=st.none() | ips, location=st.none() | locations)
resources = st.builds(
    Resource,
    type=non_empty_texts,
    uid=non_empty_texts,
    owner=optional_texts,
    sensitivity=st.sampled_from(Sensitivity),
)
auth_contexts = st.builds(
    AuthContext,
    is_mfa=st.booleans(),
    auth_protocol=optional_texts,
    mfa_time=st.none() | timestamps,
)
reasons = st.builds(Reason, code=texts, value=texts, points=scores, threshold=optional_texts)
versions = st.builds(Versions, engine=texts, rules=texts, policies=texts, entities=texts)
evidences = st.builds(Evidence, kind=texts, value=texts, event_id=st.none() | uuids)
analytics = st.builds(Analytic, uid=texts, name=texts, version=texts)

access_requests = st.builds(
    AccessRequest,
    event_id=uuids,
    time=timestamps,
    source=source_stamps,
    actor=actors,
    action=non_empty_texts,
    resource=resources,
    src_endpoint=endpoints,
    auth=auth_contexts,
    session_id=optional_texts,
    device_id=optional_texts,
    trace_id=optional_texts,
    attributes=string_maps,
)
access_actions = st.builds(
    AccessAction,
    event_id=uuids,
    time=timestamps,
    source=source_stamps,
    actor=actors,
    action=non_empty_texts,
    resource=resources,
    outcome=st.sampled_from(Outcome),
    src_endpoint=endpoints,
    auth=auth_contexts,
    status_detail=optional_texts,
    request_id=st.none() | uuids,
    session_id=optional_texts,
    device_id=optional_texts,
    trace_id=optional_texts,
    attributes=string_maps,
)
decisions = st.builds(
    Decision,
    event_id=uuids,
    time=timestamps,
    source=source_stamps,
    request_id=uuids,
    user_id=non_empty_texts,
    verdict=st.sampled_from(Verdict),
    request_risk=scores,
    user_risk=scores,
    risk_level=st.sampled_from(RiskLevel),
    versions=versions,
    reasons=_tuples(reasons),
    policy_ids=_tuples(texts),
)
alerts = st.builds(
    Alert,
    event_id=uuids,
    time=timestamps,
    source=source_stamps,
    user_id=non_empty_texts,
    title=texts,
    analytic=analytics,
    severity=st.sampled_from(Severity),
    risk_score=scores,
    risk_level=st.sampled_from(RiskLevel),
    evidences=_tuples(evidences),
    request_ids=_tuples(uuids),
)

EVENTS: Mapping[EventType, st.SearchStrategy[Event]] = {
    EventType.ACCESS_REQUEST: access_requests,
    EventType.ACCESS_ACTION: access_actions,
    EventType.DECISION: decisions,
    EventType.ALERT: alerts,
}
events: st.SearchStrategy[Event] = st.one_of(*EVENTS.values())


# --- data for any Avro schema -------------------------------------------------------------


def avro_data(schema: Any) -> st.SearchStrategy[Any]:
    """Data valid for the expanded Avro ``schema`` (named types defined before use).

    Logical types are honoured as the contract does: ``uuid`` strings are lower-case UUIDs,
    ``timestamp-millis`` longs are in 0..MAX_TIMESTAMP_MS. Values are plain (no datetime or
    UUID objects), as the codec writes them.
    """
    return _avro(schema, {}, "")


def _avro(schema: Any, named: dict[str, Any], namespace: str) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of(*(_avro(branch, named, namespace) for branch in schema))
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        full = schema if "." in schema else f"{namespace}.{schema}"
        return st.deferred(lambda: named[full])
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "uuid" and kind == "string":
        return uuids
    if logical == "timestamp-millis" and kind == "long":
        return timestamps
    if kind in ("record", "enum", "fixed"):
        full, own_namespace = _full_name(schema, namespace)
        strategy: st.SearchStrategy[Any]
        if kind == "record":
            fields = {
                field["name"]: _avro(field["type"], named, own_namespace)
                for field in schema["fields"]
            }
            strategy = st.fixed_dictionaries(fields)
        elif kind == "enum":
            strategy = st.sampled_from(schema["symbols"])
        else:
            strategy = st.binary(min_size=schema["size"], max_size=schema["size"])
        named[full] = strategy
        return strategy
    if kind == "array":
        return st.lists(_avro(schema["items"], named, namespace), max_size=3)
    if kind == "map":
        return st.dictionaries(texts, _avro(schema["values"], named, namespace), max_size=3)
    return _PRIMITIVES[kind]


def _full_name(schema: Mapping[str, Any], namespace: str) -> tuple[str, str]:
    name = str(schema["name"])
    if "." not in name:
        own = schema.get("namespace", namespace)
        name = f"{own}.{name}" if own else name
    return name, name.rpartition(".")[0]


_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(INT_MIN, INT_MAX),
    "long": st.integers(LONG_MIN, LONG_MAX),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=12),
    "string": texts,
}
