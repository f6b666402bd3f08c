"""The fast block reader against the strict one: same blocks, same rejections, same values.

``Block.from_bytes`` takes record bytes straight from the container when ``blockread`` proves
them canonical, and otherwise lets fastavro decode and re-encode them. These tests hold the
two readers to one verdict on valid containers, on containers written in every other valid
Avro form (overlong varints, other union index forms, split and negative-count arrays,
several data blocks, the null codec, a foreign writer), and on mutated ones.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from isal import isal_zlib

from riskseal import blockread
from riskseal.avrobin import zigzag
from riskseal.block import (
    META_FORMAT,
    META_FRONTIER,
    META_HEADER,
    META_SIGNATURE,
    SEALED_RECORD_SCHEMA,
    Block,
    SealedRecord,
)
from riskseal.errors import InvalidBlockError
from riskseal.keys import FileSigner
from riskseal.sealer.store import MemoryBlockStore
from tests.unit.sealer.helpers import CHAIN, chain_of, records
from tests.unit.sealer.test_block import record_strategy

SCHEMA_JSON = json.dumps(SEALED_RECORD_SCHEMA, separators=(",", ":")).encode()
_TEMPLATE = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 3))
SYNC = b"\x5a" * 16


# --- writing containers and records in any valid Avro form ----------------------------------
def _varint(value: int, pad: int = 0) -> bytes:
    """Zig-zag varint of ``value`` with ``pad`` superfluous zero groups (0: minimal)."""
    number = (value << 1) ^ (value >> 63)
    groups = []
    while True:
        groups.append(number & 0x7F)
        number >>= 7
        if not number:
            break
    groups += [0] * pad
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


DEVIATIONS = ("pad", "branch", "array")


class Encoder:
    """Encodes SealedRecords canonically, or in other valid forms drawn by hypothesis.

    ``deviations`` says which forms may be drawn: superfluous varint groups (``pad``), union
    branches counted from the end (``branch``), arrays in several or negative-count blocks
    (``array``).
    """

    def __init__(self, draw: Any = None, deviations: tuple[str, ...] = DEVIATIONS) -> None:
        self.draw = draw
        self.deviations = deviations if draw is not None else ()

    def pad(self) -> int:
        if "pad" not in self.deviations:
            return 0
        return int(self.draw(st.sampled_from([0, 0, 0, 1, 2])))

    def long(self, value: int) -> bytes:
        return _varint(value, self.pad())

    def data(self, value: bytes) -> bytes:
        return self.long(len(value)) + value

    def optional(self, value: bytes | None) -> bytes:
        other = "branch" in self.deviations
        if value is None:
            branch = self.draw(st.sampled_from([0, 0, -2])) if other else 0
            return self.long(branch)  # -2 is the null branch counted from the end
        branch = self.draw(st.sampled_from([1, 1, -1])) if other else 1
        return self.long(branch) + self.data(value)

    def headers(self, headers: tuple[tuple[str, bytes | None], ...]) -> bytes:
        items = [self.data(k.encode()) + self.optional(v) for k, v in headers]
        out = b""
        other = "array" in self.deviations
        while items:
            size = self.draw(st.integers(1, len(items))) if other else len(items)
            chunk, items = items[:size], items[size:]
            body = b"".join(chunk)
            negative = other and self.draw(st.booleans())
            count = self.long(-len(chunk)) + self.long(len(body)) if negative else b""
            out += (count or self.long(len(chunk))) + body
        return out + self.long(0)

    def record(self, r: SealedRecord) -> bytes:
        return b"".join(
            [
                self.data(r.topic.encode()),
                self.long(r.partition),
                self.long(r.offset),
                self.long(r.timestamp),
                self.long(r.timestamp_type),
                self.optional(r.key),
                self.optional(r.value),
                self.headers(r.headers),
                self.optional(None if r.flag is None else r.flag.encode()),
            ]
        )


def container(
    blocks: list[list[bytes]],
    codec: str = "deflate",
    declared_codec: str | None = None,
    deflated: Callable[[bytes], bytes] = lambda body: body,
) -> bytes:
    """An Avro container with the given records per data block, framed by hand; ``deflated``
    changes each deflate stream before it is framed."""
    metadata = {
        b"avro.schema": SCHEMA_JSON,
        b"avro.codec": (declared_codec or codec).encode(),
        META_FORMAT.encode(): b"1",
        META_HEADER.encode(): _meta(_TEMPLATE, META_HEADER),
        META_SIGNATURE.encode(): _meta(_TEMPLATE, META_SIGNATURE),
        META_FRONTIER.encode(): _meta(_TEMPLATE, META_FRONTIER),
    }
    out = [b"Obj\x01", zigzag(len(metadata))]
    for name, value in metadata.items():
        out += [zigzag(len(name)), name, zigzag(len(value)), value]
    out += [b"\x00", SYNC]
    for block in blocks:
        body = b"".join(block)
        if codec == "deflate":
            compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
            body = deflated(compressor.compress(body) + compressor.flush())
        out += [zigzag(len(block)), zigzag(len(body)), body, SYNC]
    return b"".join(out)


def _meta(block: Block, name: str) -> bytes:
    ocf = fastavro.reader(io.BytesIO(block.to_bytes()))
    value: str = ocf.metadata[name]
    return value.encode()


# --- the verdicts ----------------------------------------------------------------------------
def verdict(data: bytes, fast: bool) -> tuple[Any, ...]:
    """What a reader makes of ``data``: the block and everything derived, or the rejection."""
    try:
        block = Block.from_bytes(data, fast=fast)
    except InvalidBlockError:
        return ("invalid",)
    return (
        block,
        block.records(),
        list(block.offsets()),
        dict(block.record_partitions()),
        block.values(),
    )


def assert_same_verdict(data: bytes) -> tuple[Any, ...]:
    fast, strict = verdict(data, fast=True), verdict(data, fast=False)
    assert fast == strict
    return fast


def fast_scan(data: bytes) -> blockread.ScannedRecords | None:
    """The fast reader alone, as Block.from_bytes runs it."""
    buffer = io.BytesIO(data)
    ocf = fastavro.reader(buffer)
    blocks = blockread.read_data_blocks(data, buffer.tell(), ocf.codec)
    return None if blocks is None else blockread.scan_records(blocks)


record_lists = st.lists(record_strategy, min_size=1, max_size=12)


# --- valid containers ------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(record_lists, st.sampled_from(["deflate", "null"]), st.data())
def test_canonical_containers_take_the_fast_path_and_match(
    items: list[SealedRecord], codec: str, data: st.DataObject
) -> None:
    encoded = [item.canonical_bytes() for item in items]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=3)))
    blocks = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    blob = container(blocks, codec)
    scanned = fast_scan(blob)
    assert scanned is not None, "canonical records must not need the strict reader"
    assert scanned.record_bytes == tuple(encoded)
    _, decoded, offsets, partitions, values = assert_same_verdict(blob)
    assert decoded == tuple(items)
    assert offsets == [item.offset for item in items]
    assert sum(partitions.values()) == len(items)
    assert values == tuple(item.value for item in items)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    record_lists,
    st.sampled_from(["deflate", "null"]),
    st.sampled_from([(d,) for d in DEVIATIONS] + [DEVIATIONS]),
    st.data(),
)
def test_other_valid_encodings_are_re_encoded_like_the_strict_reader_does(
    items: list[SealedRecord], codec: str, deviations: tuple[str, ...], data: st.DataObject
) -> None:
    encoder = Encoder(data.draw, deviations)
    blob = container([[encoder.record(item) for item in items]], codec)
    block, decoded, offsets, _, values = assert_same_verdict(blob)
    assert decoded == tuple(items)
    assert block.record_bytes == tuple(item.canonical_bytes() for item in items)
    assert offsets == [item.offset for item in items]
    assert values == tuple(item.value for item in items)


@settings(max_examples=60, deadline=None)
@given(record_lists, st.sampled_from(["null", "deflate"]), st.integers(1, 5))
def test_a_foreign_avro_writer_gives_the_same_block(
    items: list[SealedRecord], codec: str, sync_interval: int
) -> None:
    buffer = io.BytesIO()
    metadata = {name: _meta(_TEMPLATE, name).decode() for name in (META_HEADER, META_SIGNATURE)}
    metadata |= {META_FORMAT: "1", META_FRONTIER: _meta(_TEMPLATE, META_FRONTIER).decode()}
    fastavro.writer(
        buffer,
        fastavro.parse_schema(SEALED_RECORD_SCHEMA),
        [item.to_record() for item in items],
        codec=codec,
        sync_interval=sync_interval,
        metadata=metadata,
    )
    _, decoded, *_ = assert_same_verdict(buffer.getvalue())
    assert decoded == tuple(items)


def test_sealer_blocks_and_the_vectors_take_the_fast_path() -> None:
    block = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 40))
    scanned = fast_scan(block.to_bytes())
    assert scanned is not None
    assert scanned.record_bytes == block.record_bytes
    assert scanned.offsets == range(0, 40)
    assert scanned.partitions == {(CHAIN.topic, CHAIN.partition): 40}


# --- mutated containers ---------------------------------------------------------------------
mutation = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
    st.integers(0, 2**16),
    st.integers(0, 255),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    record_lists, st.sampled_from(["null", "deflate"]), st.lists(mutation, min_size=1, max_size=3)
)
def test_mutated_containers_get_the_same_verdict(
    items: list[SealedRecord], codec: str, mutations: list[tuple[str, int, int]]
) -> None:
    blob = bytearray(container([[item.canonical_bytes() for item in items]], codec))
    header_end = len(container([], codec))
    for op, where, byte in mutations:
        assume(len(blob) > header_end)
        # mostly after the header, where the fast reader works; sometimes anywhere
        at = where % len(blob) if where % 4 == 0 else header_end + where % (len(blob) - header_end)
        if op == "flip":
            blob[at] ^= 1 << (byte % 8)
        elif op == "set":
            blob[at] = byte
        elif op == "insert":
            blob[at:at] = bytes([byte])
        elif op == "delete":
            del blob[at]
        else:
            del blob[at:]
    assert_same_verdict(bytes(blob))


@settings(max_examples=300, deadline=None)
@given(record_lists, st.data())
def test_mutated_record_bytes_decode_like_the_strict_decoder(
    items: list[SealedRecord], data: st.DataObject
) -> None:
    encoded = [bytearray(item.canonical_bytes()) for item in items]
    index = data.draw(st.integers(0, len(encoded) - 1))
    at = data.draw(st.integers(0, len(encoded[index]) - 1))
    encoded[index][at] = data.draw(st.integers(0, 255))
    forged = tuple(bytes(e) for e in encoded)
    block = Block(_TEMPLATE.header, _TEMPLATE.signature, forged)
    try:
        expected: Any = tuple(SealedRecord.from_canonical(d) for d in forged)
    except Exception as exc:  # the strict decoder's own error types, whatever they are
        with pytest.raises(type(exc)):
            block.records()
        with pytest.raises(type(exc)):
            block.offsets()
        with pytest.raises(type(exc)):
            block.values()
        return
    assert block.records() == expected
    assert list(block.offsets()) == [r.offset for r in expected]
    assert block.values() == tuple(r.value for r in expected)
    assert sum(block.record_partitions().values()) == len(expected)


# --- named rejections -----------------------------------------------------------------------
def _valid(codec: str = "null") -> bytes:
    return container([[r.canonical_bytes() for r in _TEMPLATE.records()]], codec)


def _reject(data: bytes) -> None:
    assert verdict(data, fast=False) == ("invalid",)
    assert verdict(data, fast=True) == ("invalid",)


def test_wrong_magic_is_rejected() -> None:
    _reject(b"Obj\x02" + _valid()[4:])


def test_wrong_sync_marker_is_rejected() -> None:
    data = bytearray(_valid())
    data[-1] ^= 0xFF
    _reject(bytes(data))


def test_codec_mismatch_is_rejected() -> None:
    recorded = [[r.canonical_bytes() for r in _TEMPLATE.records()]]
    _reject(container(recorded, "deflate", declared_codec="null"))
    _reject(container(recorded, "null", declared_codec="deflate"))


def test_truncated_varint_in_a_record_is_rejected() -> None:
    topic = CHAIN.topic.encode()
    truncated = zigzag(len(topic)) + topic + zigzag(CHAIN.partition) + b"\x80"  # offset cut
    _reject(container([[truncated]]))


def test_negative_length_is_rejected() -> None:
    record = bytearray(_TEMPLATE.records()[0].canonical_bytes())
    record[0] = 0x01  # the topic length, zig-zag -1
    _reject(container([[bytes(record)]]))


def test_bytes_after_the_last_sync_marker_are_rejected() -> None:
    _reject(_valid() + b"\x02")


def test_a_deflate_stream_cut_short_is_left_to_the_strict_reader() -> None:
    data = container(
        [[r.canonical_bytes() for r in _TEMPLATE.records()]], deflated=lambda b: b[:-2]
    )
    assert fast_scan(data) is None
    assert assert_same_verdict(data) == ("invalid",)  # zlib's partial output: records cut


def test_a_deflate_stream_with_bytes_after_its_end_is_left_to_the_strict_reader() -> None:
    # fastavro's zlib call ignores what follows the end of the stream, so the strict
    # reader accepts it; the fast reader only defers, and the verdict is the same block.
    data = container(
        [[r.canonical_bytes() for r in _TEMPLATE.records()]], deflated=lambda b: b + b"\x07"
    )
    assert fast_scan(data) is None
    block = assert_same_verdict(data)[0]
    assert block.records() == _TEMPLATE.records()


def test_a_corrupt_deflate_stream_is_rejected_by_both_readers() -> None:
    def corrupt(body: bytes) -> bytes:
        return b"\xff" + body[1:]  # block type 3: reserved, an error for every inflater

    _reject(container([[r.canonical_bytes() for r in _TEMPLATE.records()]], deflated=corrupt))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4096), st.integers(0, 9))
def test_isal_inflates_zlib_deflate_streams_to_the_same_bytes(body: bytes, level: int) -> None:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    stream = compressor.compress(body) + compressor.flush()
    inflater = isal_zlib.decompressobj(-15)
    assert inflater.decompress(stream) == zlib.decompressobj(-15).decompress(stream) == body
    assert inflater.eof and not inflater.unused_data


def test_overlong_varint_is_re_encoded_not_hashed_as_found() -> None:
    record = _TEMPLATE.records()[0]
    overlong = Encoder().record(record).replace(b"\x1e", b"\x9e\x00", 1)  # topic length 15
    block = Block.from_bytes(container([[overlong]]))
    assert block.record_bytes == (record.canonical_bytes(),)


def test_union_branch_counted_from_the_end_is_re_encoded() -> None:
    record = _TEMPLATE.records()[0]
    assert record.key is not None
    canonical = record.canonical_bytes()
    key_at = canonical.index(b"\x02" + zigzag(len(record.key)) + record.key)
    other = canonical[:key_at] + b"\x01" + canonical[key_at + 1 :]  # branch -1: bytes
    block = Block.from_bytes(container([[other]]))
    assert block.record_bytes == (canonical,)


def test_consecutive_codes_are_the_varints_of_the_range() -> None:
    for first in (0, 1, 63, 64, 127, 128, 8191, 8192, 2**31, 2**62):
        for count in (0, 1, 2, 63, 64, 65, 129):
            expected = b"".join(zigzag(n) for n in range(first, first + count))
            assert blockread.consecutive_codes(first, count) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20))
def test_offsets_are_a_range_only_when_consecutive(offsets: list[int]) -> None:
    items = [
        SealedRecord(CHAIN.topic, CHAIN.partition, offset, 0, 1, None, b"v") for offset in offsets
    ]
    block = Block(_TEMPLATE.header, _TEMPLATE.signature, tuple(i.canonical_bytes() for i in items))
    assert list(block.offsets()) == offsets
    consecutive = offsets == list(range(offsets[0], offsets[0] + len(offsets)))
    assert isinstance(block.offsets(), range) == consecutive
    assert (block.offsets() == range(offsets[0], offsets[-1] + 1)) == consecutive


@pytest.mark.parametrize("declared", [0, 1, 2, 3, 5, 6])
@pytest.mark.parametrize("shape", ["plain", "mixed"])
def test_data_block_record_count_other_than_its_records(declared: int, shape: str) -> None:
    """The strict reader reads the declared count and ignores what is left; same verdict."""
    plain = [
        SealedRecord(CHAIN.topic, CHAIN.partition, offset, 7, 1, b"k", b"v").canonical_bytes()
        for offset in range(5)
    ]  # all but the first take the one-regex path
    items = plain if shape == "plain" else [r.canonical_bytes() for r in _TEMPLATE.records()]
    blob = bytearray(container([items], "null"))
    header_end = len(container([], "null"))
    assert blob[header_end] == zigzag(len(items))[0]
    blob[header_end] = zigzag(declared)[0]
    assert_same_verdict(bytes(blob))
