"""Reading a stored block's records fast, without accepting anything the strict reader refuses.

``Block.from_bytes`` has two readers. The strict one is fastavro: it decodes every record into
a dict, and ``block.py`` re-encodes it canonically (docs/FORMAT.md §2) to get the bytes the
leaf hash covers, some ten times slower than this module, the fast one. The sealer
writes each record's canonical bytes verbatim into the container's data block (FORMAT.md
§4), so when a record's bytes are already canonical its leaf *is* that byte slice. Here the
slices are found and proved canonical — minimal varints of at most 10 bytes, union branches
written ``0x00``/``0x02``, a non-empty array as one block then ``0x00``, lengths inside the
data, strings valid UTF-8 — while only a record's coordinates are read.

The fast reader never rejects. Whenever it is not sure — another codec or writer schema, a
non-minimal or overlong varint, a negative or overrunning length, a bad sync marker, a
deflate stream that does not end exactly with its data block, bytes left over in a data
block, an Avro union branch written in another form — it answers ``None`` and the caller
runs the strict reader, which accepts (re-encoding the records) or rejects with
InvalidBlockError. So this module can change how fast a verdict comes, never
what it is: what it accepts is a subset of what the strict reader accepts, with the same
values (pinned by property tests against fastavro).

Nothing here does I/O or hashing.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from isal import isal_zlib

from riskseal.avrobin import uvarint, zigzag

SYNC_SIZE = 16
"""Bytes in an Avro container's sync marker."""

MAX_INFLATED_BYTES = 128 * 1024 * 1024
"""The most the data blocks of one stored block may inflate to (docs/FORMAT.md §4)."""

_INFLATE_ERROR = cast(type[Exception], isal_zlib.error)  # isal's stub types it as an instance

Header = tuple[str, bytes | None]
RecordFields = tuple[
    str, int, int, int, int, bytes | None, bytes | None, tuple[Header, ...], str | None
]
"""A SealedRecord's fields in schema order: topic, partition, offset, timestamp,
timestamp_type, key, value, headers, flag."""


class _Defer(Exception):
    """The fast reader is not sure; the strict reader must decide."""


class ScannedBytes(tuple[bytes, ...]):
    """Records' canonical bytes as the scan found them, with where each one's value starts.

    The scan has matched every record up to its value already, so ``record_values`` slices
    the values here instead of matching each record again. ``value_starts[i]`` is where the
    value of record ``i`` starts in its bytes (it ends two bytes before their end: no headers,
    no flag), or -1 for a record the scan read with the general parser. Every record whose
    slice comes out empty (such a record, an empty value, a null one) is read again in full.
    A slice or a copy of the tuple is a plain tuple, read record by record.
    """

    value_starts: list[int]


@dataclass(frozen=True, slots=True)
class ScannedRecords:
    """The records of a container, split and proved canonical by the fast reader."""

    record_bytes: tuple[bytes, ...]
    """Each record's canonical bytes, in container order (a :class:`ScannedBytes` when the
    scan knows where their values start)."""
    offsets: Sequence[int]
    """Each record's offset, in order: a ``range`` exactly when they are consecutive."""
    partitions: dict[tuple[str, int], int]
    """How many records carry each (topic, partition)."""


# --- the container: data blocks after the header ----------------------------------------
def read_data_blocks(data: bytes, start: int, codec: str) -> list[tuple[int, bytes]] | None:
    """The ``(record count, decompressed bytes)`` of each data block from ``start`` on.

    ``start`` is where the container header ends (its last 16 bytes are the sync marker).
    Deflate is inflated with ISA-L (``isal``), twice as fast as zlib. A complete deflate
    stream has one meaning, so it inflates to the same bytes as the strict reader's zlib; a
    stream that stops short of its data block's end, or one that runs past it, is left to
    the strict reader. None when anything is unusual (see the module docstring).
    """
    if codec not in ("null", "deflate") or start < SYNC_SIZE:
        return None
    sync = data[start - SYNC_SIZE : start]
    end = len(data)
    pos = start
    blocks: list[tuple[int, bytes]] = []
    inflated = 0
    try:
        while pos < end:
            count, pos = _long(data, pos, end)
            size, pos = _long(data, pos, end)
            if count < 0 or size < 0 or pos + size + SYNC_SIZE > end:
                return None
            payload = data[pos : pos + size]
            pos += size
            if data[pos : pos + SYNC_SIZE] != sync:
                return None
            pos += SYNC_SIZE
            if codec == "deflate":
                inflater = isal_zlib.decompressobj(-15)
                payload = inflater.decompress(payload, MAX_INFLATED_BYTES - inflated + 1)
                if not inflater.eof or inflater.unused_data:
                    return None  # cut, padded or too large: the strict reader decides
                inflated += len(payload)
            blocks.append((count, payload))
    except (_Defer, _INFLATE_ERROR):
        return None
    return blocks


def inflated_size(data: bytes, start: int, limit: int) -> int:
    """How many bytes the deflate data blocks from ``start`` on inflate to, counted up to
    just past ``limit`` (inflating no more than that); the count so far at the first data
    block that does not parse or inflate, where any Avro reader stops too. For the caller
    to refuse a block that would take an unbounded amount of memory to decode."""
    end, pos, total = len(data), start, 0
    try:
        while pos < end and total <= limit:
            _, pos = _long(data, pos, end)
            size, pos = _long(data, pos, end)
            if size < 0:
                break
            inflater = isal_zlib.decompressobj(-15)
            total += len(inflater.decompress(data[pos : pos + size], limit - total + 1))
            pos += size + SYNC_SIZE
    except (_Defer, _INFLATE_ERROR):
        pass
    return total


def scan_records(blocks: Sequence[tuple[int, bytes]]) -> ScannedRecords | None:
    """Split the data blocks into records proved canonical; None if any is not."""
    scan = _Scan()
    try:
        for count, payload in blocks:
            end = scan.run(payload, count)
            if end != len(payload):
                return None  # bytes left over in the data block: the strict reader decides
    except _Defer:
        return None
    return scan.result()


def index_records(record_bytes: Sequence[bytes]) -> ScannedRecords | None:
    """Offsets and partitions of records given one by one; None if any is not canonical."""
    scan = _Scan()
    try:
        for data in record_bytes:
            if scan.run(data, 1) != len(data):
                return None
    except _Defer:
        return None
    return scan.result()


def parse_record(data: bytes) -> RecordFields | None:
    """All fields of one record's canonical bytes; None if they are not canonical."""
    try:
        fields, _, end = _record_at(data, 0, len(data))
    except _Defer:
        return None
    return fields if end == len(data) else None


def decode_records(record_bytes: Sequence[bytes]) -> list[RecordFields] | None:
    """Every record's fields; None if some record is not canonical (decode them strictly)."""
    decoded: list[RecordFields] = []
    add, lengths = decoded.append, _LENGTHS
    head: _Matcher | None = None
    topic, partition = "", 0
    for data in record_bytes:
        found = head(data, 0) if head is not None else None
        if found is not None:
            value_start = found.end()
            value_end = value_start + lengths[found[3]]
            if value_end + 2 == len(data) and data.endswith(_TRAILER):
                at = found.end(2)  # timestamp_type, then the key's union branch
                kind, key_length = data[at], data[at + 2] >> 1
                key = data[at + 3 : at + 3 + key_length] if data[at + 1] else None
                value = None if found[3] is None else data[value_start:value_end]
                offset, timestamp = _known_long(found[1]), _known_long(found[2])
                add(
                    (
                        topic,
                        partition,
                        offset,
                        timestamp,
                        (kind >> 1) ^ -(kind & 1),
                        key,
                        value,
                        (),
                        None,
                    )
                )
                continue
        try:
            fields, prefix_end, end = _record_at(data, 0, len(data))
        except _Defer:
            return None
        if end != len(data):
            return None
        add(fields)
        if head is None:
            topic, partition = fields[0], fields[1]
            head = _record_patterns(data[:prefix_end])[0]
    return decoded


def _known_long(code: bytes) -> int:
    """The value of a varint the patterns have already proved minimal and complete."""
    number = shift = 0
    for byte in code:
        number |= (byte & 0x7F) << shift
        shift += 7
    return (number >> 1) ^ -(number & 1)


def record_values(record_bytes: Sequence[bytes]) -> list[bytes | None] | None:
    """Each record's value (None when absent); None if some record is not canonical."""
    if isinstance(record_bytes, ScannedBytes):
        return _scanned_values(record_bytes)
    values: list[bytes | None] = []
    add, lengths = values.append, _LENGTHS
    head: _Matcher | None = None
    for data in record_bytes:
        found = head(data, 0) if head is not None else None
        if found is not None:
            whole = found.end() + lengths[found[3]] + 2 == len(data)
            if whole and data.endswith(_TRAILER):
                add(None if found[3] is None else data[found.end() : -2])
                continue
        try:
            fields, prefix_end, end = _record_at(data, 0, len(data))
        except _Defer:
            return None
        if end != len(data):
            return None
        add(fields[6])
        if head is None:
            head = _record_patterns(data[:prefix_end])[0]
    return values


def _scanned_values(records: ScannedBytes) -> list[bytes | None] | None:
    """The values where the scan found them (see :class:`ScannedBytes`)."""
    ends = itertools.repeat(-len(_TRAILER))
    sliced = list(map(bytes.__getitem__, records, map(slice, records.value_starts, ends)))
    sizes = list(map(len, sliced))
    values = cast(list[bytes | None], sliced)  # the records read in full may hold None
    at = 0
    while True:  # the empty slices: read those records in full
        try:
            at = sizes.index(0, at)
        except ValueError:
            return values
        try:
            fields, _, end = _record_at(records[at], 0, len(records[at]))
        except _Defer:  # pragma: no cover - the scan has read this record already
            return None
        if end != len(records[at]):  # pragma: no cover - as above
            return None
        values[at] = fields[6]
        at += 1


# --- the scan ---------------------------------------------------------------------------
class _Scan:
    """Walks records, collecting their bytes, offset encodings and partitions.

    Most records of a chain look alike: the chain's topic and partition, a short key, a
    value under 8 KiB, no headers, no flag. Once the first record has given the (topic,
    partition) prefix, one regular expression checks such a record up to its value length
    in a single call, and a second one checks the previous record's trailer (no headers, no
    flag) together with the next record's head. Every other record goes through the
    general parser ``_record_at``.
    """

    def __init__(self) -> None:
        self.record_bytes: list[bytes] = []
        self.value_starts: list[int] = []
        self.offset_codes: list[bytes] = []
        self.partitions: Counter[tuple[str, int]] = Counter()
        self.common: tuple[str, int] | None = None
        self.generic = 0
        self.patterns: tuple[_Matcher, _Matcher] | None = None

    def run(self, buf: bytes, count: int) -> int:
        """Scan ``count`` records of ``buf`` from its start; return where they end."""
        pos, end, remaining = 0, len(buf), count
        lengths, startswith = _LENGTHS, buf.startswith
        out, codes = self.record_bytes.append, self.offset_codes.append
        starts = self.value_starts.append
        while remaining > 0:
            patterns = self.patterns
            found = None if patterns is None else patterns[0](buf, pos)
            if patterns is not None and found is not None:
                next_head, before = patterns[1], len(self.record_bytes)
                start = found.end()
                code, value_end = found[1], start + lengths[found[3]]
                while True:  # the hot loop: one regex call per record
                    found = next_head(buf, value_end)
                    if found is None:
                        break
                    codes(code)
                    starts(start - pos)
                    value_end += 2  # the record's end: its trailer has matched
                    out(buf[pos:value_end])
                    pos, start = value_end, found.end()
                    code, value_end = found[1], start + lengths[found[3]]
                closed = startswith(_TRAILER, value_end)  # else: headers or a flag follow
                if closed:
                    codes(code)
                    starts(start - pos)
                    out(buf[pos : value_end + 2])
                    pos = value_end + 2
                remaining -= len(self.record_bytes) - before
                if remaining < 0 or (remaining == 0 and not closed):
                    raise _Defer  # more records than the data block says: the strict reader decides
                if closed:
                    continue
            fields, prefix_end, next_pos = _record_at(buf, pos, end)
            codes(zigzag(fields[2]))
            starts(-1)  # read it in full for its value
            out(buf[pos:next_pos])
            self.partitions[fields[0], fields[1]] += 1
            self.generic += 1
            if self.patterns is None:
                self.common = (fields[0], fields[1])
                self.patterns = _record_patterns(buf[pos:prefix_end])
            pos, remaining = next_pos, remaining - 1
        return pos

    def result(self) -> ScannedRecords:
        """What the scan found."""
        common = len(self.record_bytes) - self.generic
        if self.common is not None and common:
            self.partitions[self.common] += common
        record_bytes = ScannedBytes(self.record_bytes)
        record_bytes.value_starts = self.value_starts
        return ScannedRecords(record_bytes, _offsets(self.offset_codes), dict(self.partitions))


_Matcher = Callable[[bytes, int], "re.Match[bytes] | None"]

# A minimal Avro long: 1 to 10 bytes, no superfluous high zero group, at most 64 bits.
_VARINT = rb"(?:[\x00-\x7f]|[\x80-\xff]{1,8}[\x01-\x7f]|[\x80-\xff]{9}\x01)"
# A length under 8 KiB (zig-zag even: never negative), every one of them a key of _LENGTHS.
_VARINT_2 = (
    b"(?:["
    + b"".join(re.escape(bytes([n])) for n in range(0, 0x80, 2))
    + b"]|["
    + b"".join(re.escape(bytes([n])) for n in range(0x80, 0x100, 2))
    + rb"][\x01-\x7f])"
)
_SHORT_KEY = (
    rb"(?:\x00|\x02(?:\x00|"  # null, or bytes of 0..63: the length is 2n, one byte
    + b"|".join(re.escape(bytes([2 * n])) + b".{%d}" % n for n in range(1, 64))
    + rb"))"
)
_TRAILER = b"\x00\x00"
"""No headers (an empty array), no flag (the null branch)."""
_LENGTHS: dict[bytes | None, int] = {None: 0}
_LENGTHS |= {
    bytes([2 * n]) if n < 64 else bytes([(2 * n) & 0x7F | 0x80, n >> 6]): n for n in range(8192)
}
"""Two-byte (or one-byte) minimal encodings of the lengths 0..8191."""


@functools.lru_cache(maxsize=256)
def _record_patterns(prefix: bytes) -> tuple[_Matcher, _Matcher]:
    """For one (topic, partition) prefix: a matcher of a common record's head (up to its
    value), and one of the previous record's trailer followed by such a head. Groups: the
    encodings of the offset, the timestamp and the value length (None for a null value)."""
    head = (
        re.escape(prefix)
        + b"("
        + _VARINT  # offset
        + b")("
        + _VARINT  # timestamp
        + rb")[\x00-\x7f]"  # timestamp_type, one byte
        + _SHORT_KEY
        + rb"(?:\x00|\x02("
        + _VARINT_2
        + rb"))"
    )
    return (
        re.compile(head, re.DOTALL).match,
        re.compile(re.escape(_TRAILER) + head, re.DOTALL).match,
    )


# --- the general parser -------------------------------------------------------------------
def _record_at(buf: bytes, pos: int, end: int) -> tuple[RecordFields, int, int]:
    """One canonical record at ``pos``: its fields, where its prefix ends, where it ends."""
    topic, pos = _string(buf, pos, end)
    partition, pos = _long(buf, pos, end)
    prefix_end = pos
    offset, pos = _long(buf, pos, end)
    timestamp, pos = _long(buf, pos, end)
    timestamp_type, pos = _long(buf, pos, end)
    key, pos = _optional_bytes(buf, pos, end)
    value, pos = _optional_bytes(buf, pos, end)
    count, pos = _long(buf, pos, end)
    headers: list[Header] = []
    if count:
        if count < 0 or count > (end - pos) // 2:  # every header takes two bytes at least
            raise _Defer
        for _ in range(count):
            name, pos = _string(buf, pos, end)
            header_value, pos = _optional_bytes(buf, pos, end)
            headers.append((name, header_value))
        if pos >= end or buf[pos]:
            raise _Defer  # a second array block: not canonical
        pos += 1
    flag_bytes, pos = _optional_bytes(buf, pos, end)
    flag = None if flag_bytes is None else _utf8(flag_bytes)
    fields = (
        topic, partition, offset, timestamp, timestamp_type, key, value, tuple(headers), flag,
    )  # fmt: skip
    return fields, prefix_end, pos


def _long(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A minimal zig-zag varint of at most 64 bits, as fastavro reads it."""
    if pos >= end:
        raise _Defer
    byte = buf[pos]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos + 1
    number, shift, start = byte & 0x7F, 7, pos
    pos += 1
    while True:
        if pos >= end:
            raise _Defer
        byte = buf[pos]
        pos += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 63:
            raise _Defer
    if byte == 0 or (pos - start == 10 and byte != 1):
        raise _Defer  # not minimal, or over 64 bits (fastavro would wrap it)
    return (number >> 1) ^ -(number & 1), pos


def _optional_bytes(buf: bytes, pos: int, end: int) -> tuple[bytes | None, int]:
    """A ``[null, bytes]`` (or ``[null, string]``) union in canonical form."""
    if pos >= end:
        raise _Defer
    branch = buf[pos]
    if branch == 0:
        return None, pos + 1
    if branch != 2:
        raise _Defer  # another branch, or a branch index in another form
    return _bytes(buf, pos + 1, end)


def _bytes(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    length, pos = _long(buf, pos, end)
    if length < 0 or pos + length > end:
        raise _Defer
    return buf[pos : pos + length], pos + length


def _string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    data, pos = _bytes(buf, pos, end)
    return _utf8(data), pos


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Defer from None


def _decode_long(code: bytes) -> int:
    value, _ = _long(code, 0, len(code))
    return value


# --- offsets ---------------------------------------------------------------------------------
_SMALL = [bytes([2 * n]) for n in range(64)]
_LOW = [bytes([0x80 | 2 * n]) for n in range(64)]


def consecutive_codes(first: int, count: int) -> bytes:
    """The concatenated encodings of the longs ``first … first + count - 1`` (``first ≥ 0``).

    For ``n ≥ 64`` the encoding of ``n`` is one byte ``0x80 | 2·(n mod 64)`` then the varint
    of ``n // 64``, so a run of 64 offsets sharing ``n // 64`` is a single ``bytes.join``.
    """
    parts: list[bytes] = []
    number, stop = first, first + count
    while number < stop and number < 64:
        parts.append(_SMALL[number])
        number += 1
    while number < stop:
        high, low = divmod(number, 64)
        run = min(64 - low, stop - number)
        suffix = uvarint(high)
        parts.append(suffix.join(_LOW[low : low + run]))
        parts.append(suffix)
        number += run
    return b"".join(parts)


def _offsets(codes: list[bytes]) -> Sequence[int]:
    """The offsets from their encodings: a ``range`` when they are consecutive.

    Every code is one complete minimal varint and varints are self-delimiting, so equal
    concatenations mean equal codes one by one.
    """
    if not codes:
        return range(0)
    first = _decode_long(codes[0])
    fits = first >= 0 and first + len(codes) <= 2**63
    if fits and b"".join(codes) == consecutive_codes(first, len(codes)):
        return range(first, first + len(codes))
    return compact_offsets([_decode_long(code) for code in codes])


def compact_offsets(offsets: list[int]) -> Sequence[int]:
    """``offsets`` as a ``range`` when they are consecutive, else as they are.

    So ``offsets == range(first, last + 1)`` is an exact and O(1) contiguity check: a list is
    never equal to a range.
    """
    if offsets and offsets == list(range(offsets[0], offsets[0] + len(offsets))):
        return range(offsets[0], offsets[0] + len(offsets))
    return offsets if offsets else range(0)
