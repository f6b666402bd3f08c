"""Checking an event record against its Avro schema, with the failing field's path.

fastavro rejects bad data too, but without saying which field; an application developer needs
``actor.roles[2]: expected a string, got int``. The schema is compiled once into a tree of
small check functions; on top of Avro's types it checks what the schema can only document:
UUIDs, IP addresses, country codes, coordinates, score ranges, valid UTF-8.
"""

from __future__ import annotations

import ipaddress
import math
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from riskseal.errors import InvalidEventError

Check = Callable[[Any, str], None]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_DOUBLE = sys.float_info.max
COUNTRY_CODE = re.compile(r"[A-Z]{2}")


class FieldError(Exception):
    """A check failed at ``path``; turned into InvalidEventError at the top."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason


def _non_empty(value: Any) -> str | None:
    return "must not be empty" if value == "" else None


def _ip(value: Any) -> str | None:
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IPv4 or IPv6 address"
    return None


def _country(value: Any) -> str | None:
    if value is None or COUNTRY_CODE.fullmatch(value):
        return None
    return f"{value!r} is not an ISO 3166-1 alpha-2 code (two upper-case letters)"


def _between(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None or low <= value <= high:
            return None
        return f"{value} is outside {low:g}..{high:g}"

    return check


def _not_negative(value: Any) -> str | None:
    return f"{value} is negative" if value < 0 else None


# Checks beyond Avro types, by "Record.field".
SEMANTIC_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "Actor.uid": _non_empty,
    "Resource.type": _non_empty,
    "Resource.uid": _non_empty,
    "AccessRequest.action": _non_empty,
    "AccessAction.action": _non_empty,
    "SourceStamp.source_id": _non_empty,
    "SourceStamp.epoch": _not_negative,
    "SourceStamp.seq": _not_negative,
    "Endpoint.ip": _ip,
    "Location.country": _country,
    "Location.lat": _between(-90, 90),
    "Location.lon": _between(-180, 180),
    "Decision.user_id": _non_empty,
    "Alert.user_id": _non_empty,
    "Decision.request_risk": _between(0, 100),
    "Decision.user_risk": _between(0, 100),
    "Reason.points": _between(0, 100),
    "Alert.risk_score": _between(0, 100),
}


def compile_validator(event_name: str, schema: Mapping[str, Any]) -> Callable[[Any], None]:
    """A function that raises InvalidEventError naming the first bad field of a record."""
    named: dict[str, Check] = {}
    return _raising(event_name, _compile(schema, named, namespace=""))


def compile_decoded_validator(event_name: str, schema: Mapping[str, Any]) -> Callable[[Any], None]:
    """Like :func:`compile_validator`, for records fastavro has just decoded with ``schema``.

    Decoding already proves what Avro's types say: every field present, no other field,
    strings valid UTF-8, enum symbols known, longs in range. What it cannot prove is checked
    here, by the very checks :func:`compile_validator` uses (same paths, same messages):
    UUIDs, timestamps, the range of ``int`` fields, finite doubles, and the semantic checks.
    Fields without such a check are not visited.
    """
    check = _compile_decoded(schema, {}, namespace="")
    if check is None:
        return lambda record: None
    return _raising(event_name, check)


def _raising(event_name: str, check: Check) -> Callable[[Any], None]:
    """``check`` on a whole record, its FieldError turned into InvalidEventError."""

    def validate(record: Any) -> None:
        try:
            check(record, "")
        except FieldError as error:
            raise InvalidEventError(event_name, error.path or "(event)", error.reason) from None

    return validate


def _compile_decoded(schema: Any, named: dict[str, Check | None], namespace: str) -> Check | None:
    if isinstance(schema, str):
        qualified = f"{namespace}.{schema}" if namespace and "." not in schema else schema
        for name in (schema, qualified):
            if name in named:
                return named[name]
        if schema in _PRIMITIVE_NAMES:
            return _decoded_primitive(schema, None)
        raise ValueError(f"{schema!r} is used before it is defined (recursive types unsupported)")
    if isinstance(schema, list):
        others = [branch for branch in schema if branch != "null"]
        if len(others) != 1:
            raise ValueError("only [null, T] unions are used in riskseal schemas")
        inner = _compile_decoded(others[0], named, namespace)
        if inner is None:
            return None
        present_check = inner

        def check_union(value: Any, path: str) -> None:
            if value is not None:
                present_check(value, path)

        return check_union
    kind = schema["type"]
    if kind == "record":
        return _decoded_record(schema, named, namespace)
    if kind == "enum":
        named[_full_name(schema, namespace)] = None
        return None
    if kind in ("array", "map"):
        inner = _compile_decoded(schema["items" if kind == "array" else "values"], named, namespace)
        if inner is None:
            return None
        element_check = inner
        if kind == "array":

            def check_array(value: Any, path: str) -> None:
                for index, element in enumerate(value):
                    element_check(element, f"{path}[{index}]")

            return check_array

        def check_map(value: Any, path: str) -> None:
            for key, element in value.items():
                element_check(element, f"{path}[{key!r}]")

        return check_map
    return _decoded_primitive(kind, schema.get("logicalType"))


_PRIMITIVE_NAMES = frozenset(
    ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
)


def _decoded_primitive(kind: str, logical: str | None) -> Check | None:
    timestamp = logical in ("timestamp-millis", "timestamp-micros")
    if (kind == "string" and logical == "uuid") or kind in ("double", "float") or kind == "int":
        return _primitive(kind, logical)
    if kind == "long" and timestamp:
        return _primitive(kind, logical)
    return None  # what decoding a long, string, boolean, bytes or null returns is valid


def _decoded_record(
    schema: Mapping[str, Any], named: dict[str, Check | None], namespace: str
) -> Check | None:
    full_name = _full_name(schema, namespace)
    record_namespace = full_name.rpartition(".")[0]
    short_name = full_name.rpartition(".")[2]
    fields: list[tuple[str, Check]] = []
    for field in schema["fields"]:
        field_check = _compile_decoded(field["type"], named, record_namespace)
        semantic = SEMANTIC_CHECKS.get(f"{short_name}.{field['name']}")
        if semantic is not None:
            field_check = _with_semantic(field_check or _no_check, semantic)
        if field_check is not None:
            fields.append((field["name"], field_check))
    if not fields:
        named[full_name] = None
        return None

    def check(value: Any, path: str) -> None:
        prefix = f"{path}." if path else ""
        for name, field_check in fields:
            field_check(value[name], prefix + name)

    named[full_name] = check
    return check


def _no_check(value: Any, path: str) -> None:
    return None


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _compile(schema: Any, named: dict[str, Check], namespace: str) -> Check:
    if isinstance(schema, str):
        if schema in named:
            return lambda value, path: named[schema](value, path)
        qualified = f"{namespace}.{schema}" if namespace and "." not in schema else schema
        if qualified in named:
            return lambda value, path: named[qualified](value, path)
        return _primitive(schema, None)
    if isinstance(schema, list):
        return _union(schema, named, namespace)
    kind = schema["type"]
    if kind == "record":
        return _record(schema, named, namespace)
    if kind == "enum":
        return _enum(schema, named, namespace)
    if kind == "array":
        return _array(schema, named, namespace)
    if kind == "map":
        return _map(schema, named, namespace)
    return _primitive(kind, schema.get("logicalType"))


def _primitive(kind: str, logical: str | None) -> Check:
    if kind == "null":

        def check_null(value: Any, path: str) -> None:
            if value is not None:
                raise FieldError(path, f"expected null, got {_type_name(value)}")

        return check_null
    if kind == "string":
        return _string(is_uuid=logical == "uuid")
    if kind in ("int", "long"):
        return _integer(kind, is_timestamp=logical in ("timestamp-millis", "timestamp-micros"))
    if kind in ("double", "float"):

        def check_number(value: Any, path: str) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FieldError(path, f"expected a number, got {_type_name(value)}")
            if isinstance(value, int):
                if abs(value) > MAX_DOUBLE:
                    raise FieldError(path, "integer too large for a double")
            elif not math.isfinite(value):
                raise FieldError(path, f"{value} is not a finite number")

        return check_number
    if kind == "boolean":

        def check_bool(value: Any, path: str) -> None:
            if not isinstance(value, bool):
                raise FieldError(path, f"expected true or false, got {_type_name(value)}")

        return check_bool
    if kind == "bytes":

        def check_bytes(value: Any, path: str) -> None:
            if not isinstance(value, bytes):
                raise FieldError(path, f"expected bytes, got {_type_name(value)}")

        return check_bytes
    raise ValueError(f"unsupported Avro type {kind!r}")


def _string(is_uuid: bool) -> Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise FieldError(path, f"expected a string, got {_type_name(value)}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise FieldError(
                path, f"not valid UTF-8: {exc.reason} at character {exc.start}"
            ) from None
        if is_uuid:
            try:
                parsed = uuid.UUID(value)
            except ValueError:
                raise FieldError(path, f"{value!r} is not a UUID") from None
            if str(parsed) != value:
                raise FieldError(path, f"{value!r} is not a lower-case hyphenated UUID")

    return check


def _integer(kind: str, is_timestamp: bool) -> Check:
    low, high = (INT_MIN, INT_MAX) if kind == "int" else (LONG_MIN, LONG_MAX)
    if is_timestamp:
        low, high = 0, MAX_TIMESTAMP_MS

    def check(value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(path, f"expected an integer, got {_type_name(value)}")
        if not low <= value <= high:
            what = "a timestamp in ms since 1970" if is_timestamp else f"an Avro {kind}"
            raise FieldError(path, f"{value} is out of range for {what} ({low}..{high})")

    return check


def _union(branches: list[Any], named: dict[str, Check], namespace: str) -> Check:
    nullable = "null" in branches
    others = [b for b in branches if b != "null"]
    if len(others) != 1:
        raise ValueError("only [null, T] unions are used in riskseal schemas")
    inner = _compile(others[0], named, namespace)

    def check(value: Any, path: str) -> None:
        if value is None:
            if not nullable:
                raise FieldError(path, "must not be null")
            return
        inner(value, path)

    return check


def _enum(schema: Mapping[str, Any], named: dict[str, Check], namespace: str) -> Check:
    symbols = tuple(schema["symbols"])

    def check(value: Any, path: str) -> None:
        symbol = getattr(value, "value", value)
        if symbol not in symbols:
            raise FieldError(path, f"{symbol!r} is not one of {', '.join(symbols)}")

    named[_full_name(schema, namespace)] = check
    return check


def _array(schema: Mapping[str, Any], named: dict[str, Check], namespace: str) -> Check:
    item = _compile(schema["items"], named, namespace)

    def check(value: Any, path: str) -> None:
        if not isinstance(value, list | tuple):
            raise FieldError(path, f"expected a list, got {_type_name(value)}")
        for index, element in enumerate(value):
            item(element, f"{path}[{index}]")

    return check


def _map(schema: Mapping[str, Any], named: dict[str, Check], namespace: str) -> Check:
    values = _compile(schema["values"], named, namespace)
    key_check = _string(is_uuid=False)

    def check(value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise FieldError(path, f"expected a mapping, got {_type_name(value)}")
        for key, element in value.items():
            key_check(key, f"{path}{{key {key!r}}}")
            values(element, f"{path}[{key!r}]")

    return check


def _record(schema: Mapping[str, Any], named: dict[str, Check], namespace: str) -> Check:
    full_name = _full_name(schema, namespace)
    record_namespace = full_name.rpartition(".")[0]
    short_name = full_name.rpartition(".")[2]
    fields: list[tuple[str, bool, Check]] = []

    def check(value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise FieldError(path, f"expected an object, got {_type_name(value)}")
        prefix = f"{path}." if path else ""
        for name, required, field_check in fields:
            if name in value:
                field_check(value[name], prefix + name)
            elif required:
                raise FieldError(prefix + name, "required field is missing")
        if len(value) > len(fields) or not known.issuperset(value):
            unknown = sorted(str(key) for key in value if key not in known)
            if unknown:
                raise FieldError(
                    prefix + unknown[0],
                    f"unknown field (a {short_name} has: {', '.join(sorted(known))})",
                )

    named[full_name] = check  # before the fields, so recursive references resolve
    for field in schema["fields"]:
        field_check = _compile(field["type"], named, record_namespace)
        semantic = SEMANTIC_CHECKS.get(f"{short_name}.{field['name']}")
        if semantic is not None:
            field_check = _with_semantic(field_check, semantic)
        fields.append((field["name"], "default" not in field, field_check))
    known = frozenset(name for name, _, _ in fields)
    return check


def _with_semantic(base: Check, semantic: Callable[[Any], str | None]) -> Check:
    def check(value: Any, path: str) -> None:
        base(value, path)
        problem = semantic(value)
        if problem is not None:
            raise FieldError(path, problem)

    return check


def _full_name(schema: Mapping[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    own = schema.get("namespace", namespace)
    return f"{own}.{name}" if own else name
