"""Reading only the fields an auditor's event checks need, without decoding whole events.

``riskseal verify`` checks, over every sealed event, that each source's (source id, epoch,
seq) numbers have no gap and that requests and decisions pair up. That needs four or five
fields per event — event id, the source stamp, and a decision's request id — while a full
decode (fastavro dict, then the typed event) builds every sub-record and map.

Every event schema begins with ``event_id`` (string), ``time`` (long) and ``source``
(SourceStamp: ``source_id`` string, ``epoch`` long, ``seq`` long); a Decision continues with
``request_id`` (string). The reading plan of each schema is derived from its field order at
start, not hard-coded: a schema whose needed fields come after a field of another type is
simply read by the full decoder.

Events in Confluent Schema Registry framing (``00`` and a schema id) go to the full decoder:
their schema is found by decoding the body (see ``riskseal.contract.codec``).

:meth:`PartialDecoder.columns` reads a whole block's events at once, for the verifier: one
regular expression over every known fingerprint, run by ``map``, and its groups taken out
column by column by ``map`` again, so the usual event costs no Python bytecode of its own.
It takes an event only when that pattern matches and the strings are valid UTF-8, exactly
when :meth:`PartialDecoder.keys` takes its one-regex shortcut; every other value is read by
:meth:`PartialDecoder.keys` itself, so both give the same keys for every value.

What it checks, and what it does not: the single-object header (magic, a known fingerprint)
exactly as ``EventCodec.decode``, and the fields it reads (minimal varints, lengths inside
the data, valid UTF-8). Anything it is not sure about goes to the full decoder, which decodes
or raises MalformedEventError. It does **not** read the rest of the body, so an event whose
body is damaged *after* these fields gives keys here while the full decoder rejects it.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from riskseal.avrobin import avro_bytes, zigzag
from riskseal.contract.codec import (
    CONFLUENT_MAGIC,
    HEADER_SIZE,
    MAGIC,
    EventCodec,
    typed_event,
)
from riskseal.contract.events import Decision
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ContractError

_SOURCE_FIELDS = ("source_id", "epoch", "seq")


@dataclass(frozen=True, slots=True)
class EventKeys:
    """The fields of one event that the pairing and sequence checks use."""

    event_type: EventType
    event_id: str
    source_id: str
    epoch: int
    seq: int
    request_id: str | None
    """A Decision's request id; None for the other event types."""


@dataclass(frozen=True, slots=True)
class KeyColumns:
    """The keys of many events, field by field: event ``i`` is entry ``i`` of every column.

    Strings are kept as Avro encodes them (the length, then UTF-8 bytes already checked
    valid) and longs as their minimal zig-zag varints. Both encodings are one-to-one, so
    equal encodings mean equal fields and the checks compare them without decoding;
    :func:`decoded_string` and :func:`decoded_long` turn one back for a message.
    """

    event_types: Sequence[EventType]
    event_ids: Sequence[bytes]
    source_ids: Sequence[bytes]
    epochs: Sequence[bytes]
    seqs: Sequence[bytes]
    request_ids: Sequence[bytes | None]
    """A Decision's request id; None for the other event types."""

    def __len__(self) -> int:
        return len(self.event_ids)

    @classmethod
    def of(cls, keys: Iterable[EventKeys]) -> KeyColumns:
        """The columns of keys read one by one."""
        rows = [
            (
                k.event_type,
                avro_bytes(k.event_id.encode()),
                avro_bytes(k.source_id.encode()),
                zigzag(k.epoch),
                zigzag(k.seq),
                None if k.request_id is None else avro_bytes(k.request_id.encode()),
            )
            for k in keys
        ]
        return cls(*_transposed(rows, 6))


def decoded_string(code: bytes) -> str:
    """The text of a string as :class:`KeyColumns` keeps it."""
    length, start = _long(code, 0, len(code))
    return code[start : start + length].decode()


def decoded_long(code: bytes) -> int:
    """The value of a long as :class:`KeyColumns` keeps it."""
    return _known_long(code)


class _NotSure(Exception):
    """The plan cannot read this event; the full decoder decides."""


# A plan is the leading fields of a schema, each ("string" | "long" | "skip-long", name) or
# ("source", None) for the SourceStamp record, up to the last field the checks need.
_Plan = tuple[tuple[str, str | None], ...]


class PartialDecoder:
    """Reads :class:`EventKeys` from single-object event bytes."""

    def __init__(self, codec: EventCodec | None = None) -> None:
        self.codec = codec or EventCodec()
        self._plans: dict[bytes, _Plan | None] = {
            schema.fingerprint: _plan(schema.plain, schema.event_type)
            for schema in self.codec.schemas
        }
        self._patterns = {
            fingerprint: _pattern(fingerprint, plan)
            for fingerprint, plan in self._plans.items()
            if plan is not None
        }
        self._types = {schema.fingerprint: schema.event_type for schema in self.codec.schemas}
        self._many = _batch_pattern(self._plans)

    def keys(self, data: bytes, expected: EventType | None = None) -> EventKeys:
        """The keys of ``data``; ContractError (as ``EventCodec.decode``) if it is no event.

        ``expected``: the event type of the record's topic, as in ``EventCodec.decode``.
        """
        fingerprint = data[len(MAGIC) : HEADER_SIZE]
        match = self._patterns.get(fingerprint)
        found = match(data) if match is not None else None
        if found is not None:  # the usual event: short strings, one regex call
            try:
                event_id, source_id = found[1][1:].decode(), found[2][1:].decode()
                request = None if found[5] is None else found[5][1:].decode()
            except UnicodeDecodeError:
                pass
            else:
                epoch, seq = _known_long(found[3]), _known_long(found[4])
                return EventKeys(self._types[fingerprint], event_id, source_id, epoch, seq, request)
        if data[:1] == CONFLUENT_MAGIC:  # registry framing: its schema is found by decoding
            return keys_of_decoded(self.codec, data, expected)
        schema = self.codec.schema_of(data)
        plan = self._plans.get(schema.fingerprint)
        if plan is not None:
            try:
                return _read(plan, schema.event_type, data)
            except _NotSure:
                pass
        return keys_of_decoded(self.codec, data)

    def columns(self, values: Iterable[bytes], expected: EventType | None = None) -> KeyColumns:
        """The keys of every event among ``values``; the values that are no event (those
        :meth:`keys` refuses with ContractError) are left out.

        The same keys as :meth:`keys` gives for each value, in the order of ``values`` except
        that within each run of ``_CHUNK`` values, the events the batch pattern cannot read
        come last. ``expected`` as in :meth:`keys`.
        """
        values = list(values)
        if len(values) <= _CHUNK:
            return self._chunk(values, expected)
        chunks = (
            self._chunk(values[n : n + _CHUNK], expected) for n in range(0, len(values), _CHUNK)
        )
        return KeyColumns(*itertools.starmap(_chained, zip(*map(_fields, chunks), strict=True)))

    def _chunk(self, values: list[bytes], expected: EventType | None) -> KeyColumns:
        matches = list(map(self._many, values))
        rest: list[bytes] = []
        if None in matches:
            rest = [value for value, found in zip(values, matches, strict=True) if found is None]
            matches = [found for found in matches if found is not None]
        fingerprints, event_ids, source_ids, epochs, seqs, request_ids = _groups(matches)
        if not (_utf8(event_ids) and _utf8(source_ids) and _utf8(filter(None, request_ids))):
            fine = [_utf8(filter(None, _STRINGS(found))) for found in matches]
            rest += [found.string for found, ok in zip(matches, fine, strict=True) if not ok]
            matches = [found for found, ok in zip(matches, fine, strict=True) if ok]
            fingerprints, event_ids, source_ids, epochs, seqs, request_ids = _groups(matches)
        fast = KeyColumns(
            list(map(self._types.__getitem__, fingerprints)),
            event_ids, source_ids, epochs, seqs, request_ids,
        )  # fmt: skip
        if not rest:
            return fast
        slow = KeyColumns.of(self._each_keys(rest, expected))
        return KeyColumns(*map(_chained, _fields(fast), _fields(slow)))

    def _each_keys(self, values: Iterable[bytes], expected: EventType | None) -> list[EventKeys]:
        found = []
        for value in values:
            try:
                found.append(self.keys(value, expected))
            except ContractError:
                continue  # no event
        return found


def keys_of_decoded(codec: EventCodec, data: bytes, expected: EventType | None = None) -> EventKeys:
    """The keys by the full decoder (the reference the partial reader is tested against)."""
    decoded = codec.decode(data, expected)
    event = typed_event(decoded)
    request_id = event.request_id if isinstance(event, Decision) else None
    return EventKeys(
        decoded.event_type,
        event.event_id,
        event.source.source_id,
        event.source.epoch,
        event.source.seq,
        request_id,
    )


def _plan(schema: Mapping[str, Any], event_type: EventType) -> _Plan | None:
    needed = {"event_id", "source"} | (
        {"request_id"} if event_type is EventType.DECISION else set()
    )
    steps: list[tuple[str, str | None]] = []
    for field in schema["fields"]:
        if not needed:
            break
        name, kind = field["name"], _primitive(field["type"])
        if name == "source" and _is_source_stamp(field["type"]):
            steps.append(("source", None))
        elif kind == "string":
            steps.append(("string", name))
        elif kind in ("long", "int"):
            steps.append(("long", name))
        else:
            return None  # a needed field comes after one this plan cannot step over
        needed.discard(name)
    return None if needed else tuple(steps)


# A minimal long; a string of 0..63 bytes (its length is one byte, 2n), captured whole. The
# alternatives are tried in turn, so the length of a UUID, the usual id, comes first (one
# alternative instead of 37 per id: a third of the time of a decision's match).
_LONG = rb"(?:[\x00-\x7f]|[\x80-\xff]{1,8}[\x01-\x7f]|[\x80-\xff]{9}\x01)"
_UUID_LENGTH = 36
_SHORT_LENGTHS = [_UUID_LENGTH] + [n for n in range(64) if n != _UUID_LENGTH]
_SHORT_STRING = (
    b"((?:" + b"|".join(re.escape(bytes([2 * n])) + b".{%d}" % n for n in _SHORT_LENGTHS) + b"))"
)


def _pattern(fingerprint: bytes, plan: _Plan) -> Callable[[bytes], re.Match[bytes] | None] | None:
    """One regular expression for the usual shape of ``plan`` (strings under 64 bytes), with
    groups event_id, source_id, epoch, seq, request_id (each string with its length byte);
    None when the plan has another shape."""
    shape = [kind for kind, _ in plan]
    names = [name for _, name in plan]
    decision = shape == ["string", "long", "source", "string"] and names[3] == "request_id"
    if shape != ["string", "long", "source"] and not decision:
        return None
    pattern = (
        re.escape(MAGIC + fingerprint)
        + _SHORT_STRING  # event_id
        + _LONG  # time
        + _SHORT_STRING  # source_id
        + b"(" + _LONG + b")(" + _LONG + b")"  # epoch, seq
        + (_SHORT_STRING if decision else b"(){0}")  # request_id (group 5 always exists)
    )  # fmt: skip
    return re.compile(pattern, re.DOTALL).match


_COLUMNS = [operator.itemgetter(n) for n in (1, 3, 4, 5, 6, 7)]
"""The groups of a batch match kept as columns (``match[n]`` is cheaper than ``group(n)``)."""
_CHUNK = 500
"""Values matched at once by :meth:`PartialDecoder.columns`: fewer than the garbage
collector's first threshold (700 new objects), so the match objects of a block are never
promoted to the older generations, whose collections then cost a third of the checks."""
_STRINGS = operator.itemgetter(3, 4, 7)  # event_id, source_id, request_id of a batch match
_NEVER = b"(?!)"


def _batch_pattern(plans: Mapping[bytes, _Plan | None]) -> Callable[[bytes], Any]:
    """One regular expression for the usual shape of every plan that has one (see
    :func:`_pattern`): groups fingerprint, decision fingerprint (None for the other events),
    event_id, source_id, epoch, seq, request_id (None for the other events)."""
    decisions: list[bytes] = []
    others: list[bytes] = []
    for fingerprint, plan in plans.items():
        if plan is None or _pattern(fingerprint, plan) is None:
            continue
        kind = [name for _, name in plan]
        (decisions if kind[-1] == "request_id" else others).append(re.escape(fingerprint))
    decision, other = b"|".join(decisions) or _NEVER, b"|".join(others) or _NEVER
    pattern = (
        re.escape(MAGIC)
        + b"((?:(" + decision + b")|" + other + b"))"  # fingerprint, decision fingerprint
        + _SHORT_STRING  # event_id
        + _LONG  # time
        + _SHORT_STRING  # source_id
        + b"(" + _LONG + b")(" + _LONG + b")"  # epoch, seq
        + b"(?(2)" + _SHORT_STRING + b")"  # request_id, in a decision
    )  # fmt: skip
    return re.compile(pattern, re.DOTALL).match


def _groups(matches: Sequence[re.Match[bytes]]) -> list[list[Any]]:
    """The columns fingerprint, event_id, source_id, epoch, seq, request_id of batch matches."""
    return [list(map(group, matches)) for group in _COLUMNS]


def _transposed(rows: Sequence[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    """Rows to columns (``width`` empty columns for no rows)."""
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def _chained(*columns: Sequence[Any]) -> list[Any]:
    return list(itertools.chain.from_iterable(columns))


def _fields(columns: KeyColumns) -> tuple[Sequence[Any], ...]:
    return (
        columns.event_types, columns.event_ids, columns.source_ids,
        columns.epochs, columns.seqs, columns.request_ids,
    )  # fmt: skip


def _utf8(strings: Iterable[bytes]) -> bool:
    """Every string (an Avro string with a one-byte length) is valid UTF-8.

    One check of the concatenation: each length byte is ASCII, so no character can run
    from one string into the next, and the whole is valid exactly when every part is."""
    try:
        b"".join(strings).decode()
    except UnicodeDecodeError:
        return False
    return True


def _known_long(code: bytes) -> int:
    """The value of a varint the pattern has already proved minimal and complete."""
    number = shift = 0
    for byte in code:
        number |= (byte & 0x7F) << shift
        shift += 7
    return (number >> 1) ^ -(number & 1)


def _primitive(schema: Any) -> str | None:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, dict) and isinstance(schema.get("type"), str):
        kind: str = schema["type"]
        return kind if kind in ("string", "long", "int") else None
    return None


def _is_source_stamp(schema: Any) -> bool:
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return False
    fields = [(f["name"], _primitive(f["type"])) for f in schema["fields"]]
    return fields == [("source_id", "string"), ("epoch", "long"), ("seq", "long")]


def _read(plan: _Plan, event_type: EventType, data: bytes) -> EventKeys:
    pos, end = HEADER_SIZE, len(data)
    strings: dict[str, str] = {}
    source: tuple[str, int, int] | None = None
    for kind, name in plan:
        if kind == "source":
            source_id, pos = _string(data, pos, end)
            epoch, pos = _long(data, pos, end)
            seq, pos = _long(data, pos, end)
            source = (source_id, epoch, seq)
        elif kind == "string":
            strings[str(name)], pos = _string(data, pos, end)
        else:
            _, pos = _long(data, pos, end)
    if source is None:  # pragma: no cover - every plan has a source step
        raise _NotSure
    return EventKeys(event_type, strings["event_id"], *source, strings.get("request_id"))


def _long(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A minimal zig-zag varint of at most 64 bits."""
    number = shift = 0
    start = pos
    while True:
        if pos >= end or shift > 63:
            raise _NotSure
        byte = data[pos]
        pos += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    if (byte == 0 and pos - start > 1) or (pos - start == 10 and byte != 1):
        raise _NotSure
    return (number >> 1) ^ -(number & 1), pos


def _string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    length, pos = _long(data, pos, end)
    if length < 0 or pos + length > end:
        raise _NotSure
    try:
        return data[pos : pos + length].decode("utf-8"), pos + length
    except UnicodeDecodeError:
        raise _NotSure from None
