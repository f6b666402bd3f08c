"""The sealed block: records exactly as Kafka delivered them, a signed header, one Avro file.

Byte-level specification: ``docs/FORMAT.md``. In short:

* every record is encoded canonically as the Avro binary encoding of ``SealedRecord``; its
  leaf hash is ``SHA-256(0x00 ‖ record bytes)`` and the block's ``records_root`` is the
  RFC 6962 Merkle root over the leaves in offset order;
* the header is the Avro binary encoding of ``BlockHeader``; ``header_hash`` is its SHA-256,
  the next block's ``prev_header_hash``; the signer signs ``SIGNING_CONTEXT ‖ header bytes``
  with Ed25519;
* the object stored in S3 is an Avro Object Container File of the ``SealedRecord`` records,
  carrying the header, the signature and the chain frontier in its file metadata, so any Avro
  tool can read the records and our verifier can check them.

Nothing here does I/O; parsing turns every problem into ``InvalidBlockError``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastavro import parse_schema, reader, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from riskseal import blockread
from riskseal.avrobin import avro_bytes, optional_bytes, zigzag
from riskseal.errors import InvalidBlockError
from riskseal.merkle import leaf_hash, root

FORMAT_VERSION = 1
SIGNING_CONTEXT = b"riskseal block header v1\x00"
HASH_SIZE = 32
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
"""The range of an Avro ``long`` (and of what fastavro reads as an ``int``)."""
CLOCK_SKEW_MS = 5 * 60_000
"""How far the clocks of two sealers of one chain may disagree (FORMAT.md §7)."""
ZERO_HASH = bytes(HASH_SIZE)
OCF_CODEC = "deflate"
OCF_MAGIC = b"Obj\x01"
DEFLATE_LEVEL = 1  # fast; audit records are small and repetitive, level 1 already shrinks them well

META_FORMAT = "riskseal.format"
META_HEADER = "riskseal.header"
META_SIGNATURE = "riskseal.signature"
META_FRONTIER = "riskseal.frontier"

SEALED_RECORD_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "SealedRecord",
    "namespace": "riskseal.seal",
    "doc": "One Kafka record exactly as the sealer received it.",
    "fields": [
        {"name": "topic", "type": "string"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp", "type": "long", "doc": "Kafka record timestamp, ms (-1: none)."},
        {"name": "timestamp_type", "type": "int", "doc": "0 none, 1 create time, 2 log append."},
        {"name": "key", "type": ["null", "bytes"]},
        {"name": "value", "type": ["null", "bytes"]},
        {
            "name": "headers",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "SealedHeader",
                    "fields": [
                        {"name": "key", "type": "string"},
                        {"name": "value", "type": ["null", "bytes"]},
                    ],
                },
            },
        },
        {
            "name": "flag",
            "type": ["null", "string"],
            "doc": "Why the value is not a valid riskseal event (undecodable or foreign); "
            "null when it is one.",
        },
    ],
}

BLOCK_HEADER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "BlockHeader",
    "namespace": "riskseal.seal",
    "fields": [
        {"name": "format_version", "type": "int"},
        {"name": "origin", "type": "string"},
        {"name": "chain_id", "type": "string"},
        {"name": "seq", "type": "long"},
        {"name": "first_offset", "type": "long"},
        {"name": "last_offset", "type": "long"},
        {"name": "record_count", "type": "long"},
        {"name": "records_root", "type": {"type": "fixed", "name": "Hash", "size": HASH_SIZE}},
        {"name": "prev_header_hash", "type": "Hash"},
        {"name": "chain_size_before", "type": "long"},
        {"name": "chain_root_before", "type": "Hash"},
        {"name": "created_ms", "type": "long"},
        {"name": "object_key", "type": "string"},
        {"name": "key_id", "type": "string"},
    ],
}

_RECORD = parse_schema(SEALED_RECORD_SCHEMA)
_HEADER = parse_schema(BLOCK_HEADER_SCHEMA)
_RECORD_SCHEMA_JSON = json.dumps(SEALED_RECORD_SCHEMA, separators=(",", ":"))
_RECORD_SCHEMA_CANONICAL = to_parsing_canonical_form(parse_schema(SEALED_RECORD_SCHEMA))
_LEAF_START = hashlib.sha256(b"\x00")


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()


def hex_digest(digest: bytes) -> str:
    """A digest as ``sha256:<hex>``, the way riskseal prints digests."""
    return f"sha256:{digest.hex()}"


@dataclass(frozen=True, slots=True)
class ChainId:
    """One chain per (Kafka cluster id, topic, partition)."""

    cluster_id: str
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.topic}/{self.partition}"

    @classmethod
    def parse(cls, text: str) -> ChainId:
        """Inverse of ``str()``; InvalidBlockError when malformed."""
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) != 3 or not _DECIMAL.fullmatch(parts[2]) or not parts[0] or not parts[1]:
            raise InvalidBlockError(f"malformed chain id {text!r} (want cluster/topic/partition)")
        return cls(parts[0], parts[1], int(parts[2]))


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A Kafka record as received: coordinates, timestamp, key, value and headers."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    flag: str | None = None

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "timestamp_type": self.timestamp_type,
            "key": self.key,
            "value": self.value,
            "headers": [{"key": k, "value": v} for k, v in self.headers],
            "flag": self.flag,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SealedRecord:
        """From an Avro record as a reader decoded it; InvalidBlockError unless every field
        has the type of the ``SealedRecord`` schema (a container written with another writer
        schema can hold anything: a string offset, a float partition, a map of headers)."""
        if not isinstance(record, Mapping):
            raise InvalidBlockError(f"record is a {type(record).__name__}, not an Avro record")
        headers = _field(record, "headers", list)
        return cls(
            topic=_field(record, "topic", str),
            partition=_field(record, "partition", int),
            offset=_field(record, "offset", int),
            timestamp=_field(record, "timestamp", int),
            timestamp_type=_field(record, "timestamp_type", int),
            key=_field(record, "key", bytes, optional=True),
            value=_field(record, "value", bytes, optional=True),
            headers=tuple(_header(header, i) for i, header in enumerate(headers)),
            flag=_field(record, "flag", str, optional=True),
        )

    def canonical_bytes(self) -> bytes:
        """The Avro binary encoding: the bytes the leaf hash covers."""
        return encode_record(
            record_prefix(self.topic, self.partition),
            self.offset,
            self.timestamp,
            self.timestamp_type,
            self.key,
            self.value,
            self.headers,
            self.flag,
        )

    def leaf_hash(self) -> bytes:
        """``SHA-256(0x00 ‖ canonical bytes)``."""
        return leaf_hash(self.canonical_bytes())

    @classmethod
    def from_canonical(cls, data: bytes) -> SealedRecord:
        """Decode canonical record bytes; InvalidBlockError unless they are exactly the
        canonical encoding of a record (no trailing bytes, no other encoding of it)."""
        if not isinstance(data, bytes):
            raise InvalidBlockError(f"record bytes are a {type(data).__name__}, not bytes")
        buffer = io.BytesIO(data)
        try:
            record: Any = schemaless_reader(buffer, _RECORD, None)
        except Exception as exc:  # fastavro raises many types on malformed input
            raise InvalidBlockError(f"record bytes do not decode: {exc!r}") from None
        if buffer.tell() != len(data):
            raise InvalidBlockError(f"record bytes have {len(data) - buffer.tell()} trailing bytes")
        decoded = cls.from_record(record)
        if decoded.canonical_bytes() != data:
            raise InvalidBlockError("record bytes are not in canonical form")
        return decoded


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """What the signature covers; see docs/FORMAT.md for each field."""

    origin: str
    chain_id: str
    seq: int
    first_offset: int
    last_offset: int
    record_count: int
    records_root: bytes
    prev_header_hash: bytes
    chain_size_before: int
    chain_root_before: bytes
    created_ms: int
    object_key: str
    key_id: str
    format_version: int = FORMAT_VERSION

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "format_version": self.format_version,
            "origin": self.origin,
            "chain_id": self.chain_id,
            "seq": self.seq,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
            "record_count": self.record_count,
            "records_root": self.records_root,
            "prev_header_hash": self.prev_header_hash,
            "chain_size_before": self.chain_size_before,
            "chain_root_before": self.chain_root_before,
            "created_ms": self.created_ms,
            "object_key": self.object_key,
            "key_id": self.key_id,
        }

    def canonical_bytes(self) -> bytes:
        """The Avro binary encoding of the header: what is hashed and signed."""
        buffer = io.BytesIO()
        schemaless_writer(buffer, _HEADER, self.to_record())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockHeader:
        """Parse canonical header bytes; InvalidBlockError on any problem."""
        buffer = io.BytesIO(data)
        try:
            record: Any = schemaless_reader(buffer, _HEADER, None)
        except (EOFError, ValueError, IndexError, UnicodeDecodeError, TypeError) as exc:
            raise InvalidBlockError(f"header does not decode: {exc}") from exc
        if buffer.tell() != len(data):
            raise InvalidBlockError(f"header has {len(data) - buffer.tell()} trailing bytes")
        header = cls(**record)
        if header.canonical_bytes() != data:
            raise InvalidBlockError("header bytes are not in canonical form")
        return header

    def header_hash(self) -> bytes:
        """SHA-256 of the canonical header: the link the next block carries."""
        return sha256(self.canonical_bytes())

    def signing_payload(self) -> bytes:
        """What the Ed25519 signature covers: a context string, then the header bytes."""
        return SIGNING_CONTEXT + self.canonical_bytes()

    def chain_leaf_hash(self) -> bytes:
        """This block's leaf in the chain-level tree: ``SHA-256(0x00 ‖ header bytes)``."""
        return leaf_hash(self.canonical_bytes())


@dataclass(frozen=True, slots=True)
class Block:
    """A header, its signature, the records' canonical bytes, and the chain frontier.

    What is derived from the records (decoded records, leaf hashes, offsets) is computed on
    first use and kept with the block, so a verifier pays for each view once.
    """

    header: BlockHeader
    signature: bytes
    record_bytes: tuple[bytes, ...]
    """The canonical encoding of every record, in offset order (what the leaves hash)."""
    frontier_before: tuple[bytes, ...] = field(default=())
    """The compact range (RFC 6962 subtree roots, left to right) of the chain-level tree
    before this block; it lets a sealer resume a chain without reading every header."""
    _derived: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def records(self) -> tuple[SealedRecord, ...]:
        """The records, decoded (computed once)."""
        decoded: tuple[SealedRecord, ...] | None = self._derived.get("records")
        if decoded is None:
            fields = blockread.decode_records(self.record_bytes)
            if fields is None:  # some record is not canonical: the strict decoder, record by record
                decoded = tuple(_decode_record(data) for data in self.record_bytes)
            else:
                decoded = tuple(SealedRecord(*each) for each in fields)
            self._derived["records"] = decoded
        return decoded

    def leaf_hashes(self) -> tuple[bytes, ...]:
        """Every record's leaf hash, ``SHA-256(0x00 ‖ record bytes)``, in order (computed once)."""
        leaves: tuple[bytes, ...] | None = self._derived.get("leaves")
        if leaves is None:
            leaves = self._derived["leaves"] = _leaf_hashes(self.record_bytes)
        return leaves

    def offsets(self) -> Sequence[int]:
        """Every record's Kafka offset, in order: a ``range`` exactly when they are consecutive.

        Read from the record bytes without decoding keys, values or headers; the same
        numbers as ``[r.offset for r in records()]``, raising what ``records()`` raises. A
        list is never equal to a range, so ``offsets() == range(first, last + 1)`` checks
        contiguity exactly, in O(1).
        """
        return self._index().offsets

    def record_partitions(self) -> Mapping[tuple[str, int], int]:
        """How many records carry each (topic, partition); one entry in a well-formed block."""
        return self._index().partitions

    def values(self) -> tuple[bytes | None, ...]:
        """Every record's Kafka value (None when absent), in order (computed once).

        Read without decoding the other fields; equal to ``[r.value for r in records()]``.
        """
        values: tuple[bytes | None, ...] | None = self._derived.get("values")
        if values is None:
            fast = blockread.record_values(self.record_bytes)
            if fast is None:  # some record is not canonical: what the strict decoder says
                values = tuple(record.value for record in self.records())
            else:
                values = tuple(fast)
            self._derived["values"] = values
        return values

    def _index(self) -> blockread.ScannedRecords:
        index: blockread.ScannedRecords | None = self._derived.get("index")
        if index is None:
            index = blockread.index_records(self.record_bytes)
            if index is None:  # some record is not canonical: what the strict decoder says
                decoded = self.records()
                index = blockread.ScannedRecords(
                    self.record_bytes,
                    blockread.compact_offsets([record.offset for record in decoded]),
                    dict(Counter((record.topic, record.partition) for record in decoded)),
                )
            self._derived["index"] = index
        return index

    def to_bytes(self) -> bytes:
        """The Avro Object Container File stored in S3 (docs/FORMAT.md §4).

        Written by hand so the file holds exactly the canonical record bytes: one deflate
        data block, and a sync marker derived from the header hash, so the same block always
        gives the same object bytes.
        """
        metadata = {
            "avro.schema": _RECORD_SCHEMA_JSON.encode(),
            "avro.codec": OCF_CODEC.encode(),
            META_FORMAT: str(self.header.format_version).encode(),
            META_HEADER: base64.b64encode(self.header.canonical_bytes()),
            META_SIGNATURE: base64.b64encode(self.signature),
            META_FRONTIER: base64.b64encode(b"".join(self.frontier_before)),
        }
        sync = self.header.header_hash()[:16]
        out = [OCF_MAGIC, zigzag(len(metadata))]
        for name, value in metadata.items():
            out += [avro_bytes(name.encode()), avro_bytes(value)]
        out += [b"\x00", sync]
        if self.record_bytes:
            compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
            body = compressor.compress(b"".join(self.record_bytes)) + compressor.flush()
            out += [zigzag(len(self.record_bytes)), zigzag(len(body)), body, sync]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, *, fast: bool = True) -> Block:
        """Parse a stored block; every decoding problem becomes InvalidBlockError.

        The leaves must not depend on how the container happens to encode the records. The
        fast reader (``riskseal.blockread``) takes each record's bytes as they are stored
        when it can prove them canonical; anything else goes to the strict reader, which
        decodes the records with a standard Avro reader and re-encodes them canonically.
        Both give the same block or the same rejection; ``fast=False`` runs the strict
        reader alone (for cross-checks and benchmarks).
        """
        if not data.startswith(OCF_MAGIC):
            raise InvalidBlockError("not an Avro container (no Obj\\x01 magic)")
        buffer = io.BytesIO(data)
        try:
            ocf = reader(buffer)
            metadata = dict(ocf.metadata)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise InvalidBlockError(f"not a readable Avro container: {exc}") from exc
        scanned = _read_fast(data, buffer.tell(), metadata) if fast else None
        if scanned is None:
            _refuse_unbounded(data, buffer.tell(), metadata, ocf.writer_schema)
        record_bytes = scanned.record_bytes if scanned is not None else _read_strict(ocf)
        try:
            if metadata.get(META_FORMAT) != str(FORMAT_VERSION):
                raise InvalidBlockError(
                    f"unsupported block format {metadata.get(META_FORMAT)!r} "
                    f"(this verifier reads {FORMAT_VERSION})"
                )
            header = BlockHeader.from_bytes(_b64(metadata, META_HEADER))
            signature = _b64(metadata, META_SIGNATURE)
            frontier_bytes = _b64(metadata, META_FRONTIER)
        except KeyError as exc:
            raise InvalidBlockError(f"container metadata lacks {exc.args[0]}") from None
        if len(frontier_bytes) % HASH_SIZE:
            raise InvalidBlockError("chain frontier is not a whole number of hashes")
        frontier = tuple(
            frontier_bytes[i : i + HASH_SIZE] for i in range(0, len(frontier_bytes), HASH_SIZE)
        )
        block = cls(header, signature, record_bytes, frontier)
        if scanned is not None:
            block._derived["index"] = scanned
        return block


def _refuse_unbounded(
    data: bytes, header_end: int, metadata: dict[str, Any], writer_schema: Any
) -> None:
    """InvalidBlockError for a container the strict reader would decode without a bound on
    memory: a writer schema other than SealedRecord's (an array of nulls a few bytes long
    can claim 2^62 items), a codec other than deflate or none (bzip2 and xz have no bound
    here), or data blocks inflating past ``MAX_INFLATED_BYTES`` in all."""
    if to_parsing_canonical_form(writer_schema) != _RECORD_SCHEMA_CANONICAL:
        raise InvalidBlockError("the container's writer schema is not SealedRecord (FORMAT.md §4)")
    codec = metadata.get("avro.codec", "null")
    if codec not in ("null", "deflate"):
        raise InvalidBlockError(f"the container's codec is {codec!r}, not deflate (FORMAT.md §4)")
    if codec == "deflate":
        limit = blockread.MAX_INFLATED_BYTES
        if blockread.inflated_size(data, header_end, limit) > limit:
            raise InvalidBlockError(f"the records inflate to more than {limit:,} bytes")


def _read_strict(ocf: Any) -> tuple[bytes, ...]:
    """Every record decoded by fastavro under the container's writer schema, type-checked
    against ``SealedRecord`` and re-encoded canonically; InvalidBlockError on any problem."""
    record_bytes: list[bytes] = []
    try:
        for record in ocf:
            record_bytes.append(SealedRecord.from_record(record).canonical_bytes())
    except InvalidBlockError as exc:
        raise InvalidBlockError(f"record {len(record_bytes)} of the container: {exc}") from None
    except Exception as exc:  # fastavro raises many types on corrupt input
        raise InvalidBlockError(f"not a readable Avro container: {exc!r}") from None
    return tuple(record_bytes)


def _field(record: Mapping[str, Any], name: str, kind: type, *, optional: bool = False) -> Any:
    """``record[name]`` if it is a ``kind`` (or None when ``optional``), else InvalidBlockError.

    ``bool`` is not an ``int`` here, and integers must fit an Avro ``long``.
    """
    if name not in record:
        raise InvalidBlockError(f"record has no field {name!r}")
    value: Any = record[name]
    if value is None and optional:
        return None
    if type(value) is not kind:  # exactly: no bool for int, no subclass of str or bytes
        raise InvalidBlockError(
            f"record field {name!r} is a {type(value).__name__}, not {kind.__name__}"
        )
    if isinstance(value, int) and not LONG_MIN <= value <= LONG_MAX:
        raise InvalidBlockError(f"record field {name!r} is out of the Avro long range")
    return value


def _header(header: Any, index: int) -> tuple[str, bytes | None]:
    if not isinstance(header, Mapping):
        raise InvalidBlockError(f"record header {index} is a {type(header).__name__}")
    try:
        return _field(header, "key", str), _field(header, "value", bytes, optional=True)
    except InvalidBlockError as exc:
        raise InvalidBlockError(f"record header {index}: {exc}") from None


_DECIMAL = re.compile(r"0|[1-9][0-9]*")
"""A partition number as ``str(ChainId)`` writes it: ASCII digits, no sign, no leading zero."""


def _read_fast(
    data: bytes, header_end: int, metadata: dict[str, Any]
) -> blockread.ScannedRecords | None:
    """The records by the fast reader, or None when the strict reader must decide."""
    schema = metadata["avro.schema"]  # fastavro has read it already
    if schema != _RECORD_SCHEMA_JSON and json.loads(schema) != SEALED_RECORD_SCHEMA:
        return None  # another writer schema: the strict reader decodes and type-checks it
    blocks = blockread.read_data_blocks(data, header_end, metadata.get("avro.codec", "null"))
    return None if blocks is None else blockread.scan_records(blocks)


def _decode_record(data: bytes) -> SealedRecord:
    fields = blockread.parse_record(data)
    return SealedRecord.from_canonical(data) if fields is None else SealedRecord(*fields)


def _leaf_hashes(record_bytes: Sequence[bytes]) -> tuple[bytes, ...]:
    """merkle.leaf_hash of each, inlined (this is a hot loop): a copy of the hash state after
    the 0x00 prefix is a little cheaper than a new hash of a concatenation."""
    start = _LEAF_START.copy
    leaves: list[bytes] = []
    add = leaves.append
    for data in record_bytes:
        state = start()
        state.update(data)
        add(state.digest())
    return tuple(leaves)


def _b64(metadata: dict[str, Any], name: str) -> bytes:
    value = metadata[name]
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise InvalidBlockError(f"container metadata {name} is not base64") from exc


def records_root(record_bytes: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle root over the records' canonical bytes, in order."""
    return root(_leaf_hashes(record_bytes))


# --- the canonical record encoding, by hand (pinned to fastavro's by property tests) -------
def record_prefix(topic: str, partition: int) -> bytes:
    """The encoding of a record's first two fields, the same for a whole partition."""
    return avro_bytes(topic.encode("utf-8")) + zigzag(partition)


def encode_record(
    prefix: bytes,
    offset: int,
    timestamp: int,
    timestamp_type: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    flag: str | None,
) -> bytes:
    """``avro(SealedRecord, record)`` given the partition's ``record_prefix``."""
    parts = [prefix, zigzag(offset), zigzag(timestamp), zigzag(timestamp_type)]
    parts.append(optional_bytes(key))
    parts.append(optional_bytes(value))
    if headers:
        parts.append(zigzag(len(headers)))
        for name, header_value in headers:
            parts.append(avro_bytes(name.encode("utf-8")))
            parts.append(optional_bytes(header_value))
    parts.append(b"\x00")
    parts.append(optional_bytes(flag.encode("utf-8") if flag is not None else None))
    return b"".join(parts)


def block_key(prefix: str, chain: ChainId, seq: int) -> str:
    """The deterministic object key of block ``seq`` of ``chain``."""
    return f"{prefix}/blocks/{chain.cluster_id}/{chain.topic}/{chain.partition}/{seq:012d}"


def checkpoint_key(prefix: str, chain: ChainId, created_ms: int) -> str:
    """The object key of a checkpoint of ``chain`` written at ``created_ms``."""
    return (
        f"{prefix}/checkpoints/{chain.cluster_id}/{chain.topic}/{chain.partition}/{created_ms:015d}"
    )
