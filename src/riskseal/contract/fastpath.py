"""The SDK's fast encoder for access requests and actions.

An application sends the same actor, resource, endpoint and auth context many times, so
their sub-records are validated and encoded once and then reused from a cache keyed by value
(they are frozen dataclasses). The key also holds the type of every number field, because
equal numbers of different types (``True == 1``, ``5 == 5.0``) are not equally valid. Only
the per-event fields (event id, time, sequence number, action, ids, attributes) are encoded
each time, by hand, following the Avro binary encoding.
The result is byte-for-byte what fastavro writes for the same record; property tests pin that.

The sequence number is the only field that must be set under the client's send lock, so the
encoder returns the event in three parts: ``head`` (header and fields before the sequence
number), the sequence number, and ``tail`` (every field after it).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from fastavro import parse_schema, schemaless_writer
from fastavro.schema import load_schema

from riskseal.avrobin import NULL, avro_bytes, zigzag
from riskseal.contract.codec import MAGIC
from riskseal.contract.events import (
    AccessAction,
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    Location,
    Outcome,
    Resource,
)
from riskseal.contract.schemas_set import (
    EventType,
    SchemaSet,
    default_schemas,
    without_logical_types,
)
from riskseal.contract.validation import compile_validator
from riskseal.errors import ConfigError, EventTooLargeError, InvalidEventError

OUTCOME_INDEX = {outcome: index for index, outcome in enumerate(("SUCCESS", "FAILURE", "UNKNOWN"))}
CACHE_LIMIT = 8_192
EMPTY_MAP = b"\x00"
# The dataclass that stands for each named record a sub-record is or contains.
RECORD_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (Actor, AuthContext, Endpoint, Location, Resource)
}


def string(value: str) -> bytes:
    """Avro ``string``: length, then UTF-8 (raises UnicodeEncodeError on lone surrogates)."""
    return avro_bytes(value.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class EncodedParts:
    """An event encoded around its sequence number: ``head ‖ zigzag(seq) ‖ tail``."""

    head: bytes
    tail: bytes

    def with_seq(self, seq: int) -> bytes:
        """The complete single-object encoding for sequence number ``seq``."""
        return self.head + zigzag(seq) + self.tail


NUMBER_TYPES = frozenset(("boolean", "int", "long", "float", "double"))


def _article(name: str) -> str:
    return f"an {name}" if name[0] in "AEIOU" else f"a {name}"


class _Shape:
    """What a sub-record's cache key and its Avro validation cannot see by themselves.

    Equal values of different types hash alike, but among the types a sub-record holds only
    numbers differ in validity or encoding (``True == 1 == 1.0`` and ``-0.0 == 0.0``), so
    the cache key tags each number field with its type (and zeros with their repr).
    ``to_record`` turns a list, or a string, into a valid array, so arrays are checked to be
    tuples here, and records to be of their dataclass, before the record is validated.
    """

    tagged: bool  # whether the cache key needs tags(); not for records without numbers

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.cls = RECORD_CLASSES[str(schema["name"]).rpartition(".")[2]]
        self.arrays: list[str] = []
        self.numbers: list[str] = []
        self.nested: list[tuple[str, _Shape]] = []
        for field in schema["fields"]:
            branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
            for branch in branches:
                kind = branch["type"] if isinstance(branch, Mapping) else branch
                if kind == "array":
                    self.arrays.append(field["name"])
                elif kind == "record":
                    self.nested.append((field["name"], _Shape(branch)))
                elif kind in NUMBER_TYPES:
                    self.numbers.append(field["name"])
        self.tagged = bool(self.numbers) or any(shape.tagged for _, shape in self.nested)
        self._numbers_of: Callable[[Any], tuple[Any, ...]]
        if len(self.numbers) > 1:
            self._numbers_of = attrgetter(*self.numbers)
        else:  # attrgetter of one name returns the bare value, and needs at least one name
            names = self.numbers
            self._numbers_of = lambda value: tuple(getattr(value, name) for name in names)

    def tags(self, value: Any) -> Any:
        """The types of the number fields of ``value``, nested records' included."""
        tags: Any = ()
        if self.numbers:
            numbers = self._numbers_of(value)
            tags = tuple(map(type, numbers))
            if 0 in numbers:  # -0.0 == 0.0, but the two encode differently
                tags += (repr(numbers),)
        for name, shape in self.nested:
            nested = getattr(value, name)
            tags += (None if nested is None else shape.tags(nested),)
        return tags

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        """The path and reason of the first part of ``value`` of a wrong Python type."""
        if not isinstance(value, self.cls):
            return path, f"expected {_article(self.cls.__name__)}, got {type(value).__name__}"
        for name in self.arrays:
            items = getattr(value, name)
            if not isinstance(items, tuple):
                reason = f"expected a tuple, got {type(items).__name__}"
                example = f"{name}=('a', 'b'): {self.cls.__name__} is immutable"
                return f"{path}.{name}", f"{reason} (write {example})"
        for name, shape in self.nested:
            nested = getattr(value, name)
            if nested is None:
                continue
            if not isinstance(nested, shape.cls):
                reason = f"expected {_article(shape.cls.__name__)} or None"
                return f"{path}.{name}", f"{reason}, got {type(nested).__name__}"
            found = shape.problem(nested, f"{path}.{name}")
            if found is not None:
                return found
        return None


class _SubRecordCache:
    """Validated, encoded bytes of one named sub-record type, by value and number types."""

    def __init__(self, directory: str, name: str, field: str) -> None:
        declared = load_schema(f"{directory}/riskseal.events.{name}.avsc", _write_hint=False)
        if not isinstance(declared, dict):
            raise TypeError(f"riskseal.events.{name} is not a record schema")
        self._schema = parse_schema(without_logical_types(declared))
        self._validate = compile_validator(name, declared)
        self._shape = _Shape(declared)
        self._tagged = self._shape.tagged
        self._field = field
        self._cache: dict[Hashable, bytes] = {}
        # The same object sent again is found by identity, without hashing its fields; the
        # entry keeps the object alive, so its id cannot be reused by another object.
        self._by_id: dict[int, tuple[Any, bytes]] = {}

    def get(self, value: Any, event_type: EventType) -> bytes:
        same = self._by_id.get(id(value))
        if same is not None and same[0] is value:
            return same[1]
        key: Hashable | None
        try:
            key = (value, self._shape.tags(value)) if self._tagged else value
            cached = self._cache.get(key)
        except (TypeError, AttributeError):  # a list, or no record at all: never cached
            cached, key = None, None
        if cached is not None:
            self._remember(value, cached)
            return cached
        # A value found by key has the same types as one that passed here.
        problem = self._shape.problem(value, self._field)
        if problem is not None:
            raise InvalidEventError(event_type.value, *problem)
        record = value.to_record()
        try:
            self._validate(record)
        except InvalidEventError as exc:
            path = self._field if exc.field_path == "(event)" else f"{self._field}.{exc.field_path}"
            raise InvalidEventError(event_type.value, path, exc.reason) from None
        buffer = io.BytesIO()
        schemaless_writer(buffer, self._schema, record)
        encoded = buffer.getvalue()
        if key is not None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = encoded
        self._remember(value, encoded)
        return encoded

    def _remember(self, value: Any, encoded: bytes) -> None:
        if len(self._by_id) >= CACHE_LIMIT:
            self._by_id.clear()
        self._by_id[id(value)] = (value, encoded)


class FastEncoder:
    """Validates and encodes AccessRequest and AccessAction for one source."""

    def __init__(
        self,
        source_id: str,
        epoch: int,
        max_event_bytes: int,
        schemas: SchemaSet | None = None,
    ) -> None:
        self.schemas = schemas or default_schemas()
        directory = str(self.schemas.directory)
        self._actors = _SubRecordCache(directory, "Actor", "actor")
        self._endpoints = _SubRecordCache(directory, "Endpoint", "src_endpoint")
        self._resources = _SubRecordCache(directory, "Resource", "resource")
        self._auths = _SubRecordCache(directory, "AuthContext", "auth")
        self._strings: dict[str, bytes] = {}
        self._optionals: dict[str, bytes] = {}
        if self._non_empty_string_check(source_id) is not None:
            raise ConfigError(f"source id {source_id!r} must be a non-empty UTF-8 string")
        self._source = string(source_id) + zigzag(epoch)
        self.max_event_bytes = max_event_bytes
        attributes_schema = {"type": "map", "values": "string"}
        self._attributes_schema = parse_schema(attributes_schema)
        self._validate_attributes = compile_validator(
            "attributes", {"type": "record", "name": "A", "fields": [
                {"name": "attributes", "type": attributes_schema}]}
        )  # fmt: skip

    def encode_request(self, request: AccessRequest, trusted_id: bool = False) -> EncodedParts:
        """Validate and encode an access request around its sequence number."""
        kind = EventType.ACCESS_REQUEST
        head = self._head(kind, request.event_id, request.time, trusted_id)
        tail = b"".join(
            (
                self._actors.get(request.actor, kind),
                self._optional(kind, "session_id", request.session_id),
                self._optional(kind, "device_id", request.device_id),
                self._endpoints.get(request.src_endpoint, kind),
                self._action(kind, request.action),
                self._resources.get(request.resource, kind),
                self._auths.get(request.auth, kind),
                self._optional(kind, "trace_id", request.trace_id),
                self._attributes(kind, request.attributes),
            )
        )
        return self._checked(kind, head, tail)

    def encode_action(self, action: AccessAction, trusted_id: bool = False) -> EncodedParts:
        """Validate and encode a user action around its sequence number."""
        kind = EventType.ACCESS_ACTION
        head = self._head(kind, action.event_id, action.time, trusted_id)
        tail = b"".join(
            (
                self._actors.get(action.actor, kind),
                self._optional(kind, "session_id", action.session_id),
                self._optional(kind, "device_id", action.device_id),
                self._endpoints.get(action.src_endpoint, kind),
                self._action(kind, action.action),
                self._resources.get(action.resource, kind),
                self._auths.get(action.auth, kind),
                self._outcome(kind, action.outcome),
                self._optional(kind, "status_detail", action.status_detail),
                self._optional(kind, "request_id", action.request_id, self._uuid_check),
                self._optional(kind, "trace_id", action.trace_id),
                self._attributes(kind, action.attributes),
            )
        )
        return self._checked(kind, head, tail)

    # --- per-event fields ------------------------------------------------------------------
    def _head(self, kind: EventType, event_id: str, time_ms: int, trusted_id: bool) -> bytes:
        if not trusted_id:
            self._field(kind, "event_id", event_id, self._uuid_check)
        if type(time_ms) is not int or not 0 <= time_ms <= 253_402_300_799_999:
            self._field(kind, "time", time_ms, self._timestamp_check)
        schema = self.schemas[kind]
        return b"".join(
            (MAGIC, schema.fingerprint, string(event_id), zigzag(time_ms), self._source)
        )

    def _action(self, kind: EventType, value: str) -> bytes:
        # Only an exact str is looked up: a list is unhashable, and a str subclass equal to a
        # cached action would skip the check that refuses it.
        cached = self._strings.get(value) if type(value) is str else None
        if cached is None:
            self._field(kind, "action", value, self._non_empty_string_check)
            cached = string(value)
            if len(self._strings) >= CACHE_LIMIT:
                self._strings.clear()
            self._strings[value] = cached
        return cached

    def _optional(
        self,
        kind: EventType,
        name: str,
        value: str | None,
        check: Callable[[Any], str | None] | None = None,
    ) -> bytes:
        if value is None:
            return NULL
        if type(value) is not str:
            raise InvalidEventError(
                kind.value, name, f"expected a string, got {type(value).__name__}"
            )
        cached = self._optionals.get(value)
        if cached is not None and check is None:
            return cached
        if check is not None:
            self._field(kind, name, value, check)
        try:
            encoded = b"\x02" + string(value)
        except UnicodeEncodeError as exc:
            raise InvalidEventError(
                kind.value, name, f"not valid UTF-8: {exc.reason} at character {exc.start}"
            ) from None
        if len(self._optionals) >= CACHE_LIMIT:
            self._optionals.clear()
        self._optionals[value] = encoded
        return encoded

    def _outcome(self, kind: EventType, outcome: Outcome) -> bytes:
        symbol = getattr(outcome, "value", outcome)
        index = OUTCOME_INDEX.get(symbol) if isinstance(symbol, str) else None
        if index is None:
            raise InvalidEventError(
                kind.value, "outcome", f"{outcome!r} is not one of SUCCESS, FAILURE, UNKNOWN"
            )
        return zigzag(index)

    def _attributes(self, kind: EventType, attributes: Mapping[str, str]) -> bytes:
        if not attributes and isinstance(attributes, Mapping):
            return EMPTY_MAP
        try:
            self._validate_attributes({"attributes": attributes})
        except InvalidEventError as exc:
            raise InvalidEventError(kind.value, exc.field_path, exc.reason) from None
        buffer = io.BytesIO()
        schemaless_writer(buffer, self._attributes_schema, dict(attributes))
        return buffer.getvalue()

    def _checked(self, kind: EventType, head: bytes, tail: bytes) -> EncodedParts:
        size = len(head) + len(tail) + 10  # a sequence number takes at most 10 bytes
        if size > self.max_event_bytes:
            raise EventTooLargeError(kind.value, size, self.max_event_bytes)
        return EncodedParts(head, tail)

    # --- scalar checks ---------------------------------------------------------------------
    @staticmethod
    def _field(kind: EventType, name: str, value: Any, check: Callable[[Any], str | None]) -> None:
        problem = check(value)
        if problem is not None:
            raise InvalidEventError(kind.value, name, problem)

    @staticmethod
    def _uuid_check(value: Any) -> str | None:
        if type(value) is not str:
            return f"expected a string, got {type(value).__name__}"
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            return f"{value!r} is not a UUID"
        return None if str(parsed) == value else f"{value!r} is not a lower-case hyphenated UUID"

    @staticmethod
    def _timestamp_check(value: Any) -> str | None:
        if type(value) is not int:
            return f"expected an integer, got {type(value).__name__}"
        return f"{value} is out of range for a timestamp in ms since 1970"

    @staticmethod
    def _non_empty_string_check(value: Any) -> str | None:
        if type(value) is not str:
            return f"expected a string, got {type(value).__name__}"
        if not value:
            return "must not be empty"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"not valid UTF-8: {exc.reason} at character {exc.start}"
        return None
