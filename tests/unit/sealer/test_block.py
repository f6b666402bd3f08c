"""Block codec: round trip, canonical header, and every way a stored block can be corrupt."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import fastavro
import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.block import (
    SEALED_RECORD_SCHEMA,
    Block,
    BlockHeader,
    ChainId,
    SealedRecord,
    block_key,
    records_root,
)
from riskseal.errors import InvalidBlockError
from riskseal.keys import FileSigner
from riskseal.sealer.store import MemoryBlockStore
from tests.unit.sealer.helpers import CHAIN, PREFIX, chain_of, records, sealed_records

record_strategy = st.builds(
    SealedRecord,
    topic=st.text(min_size=1, max_size=20),
    partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
    timestamp=st.integers(-1, 2**62),
    timestamp_type=st.integers(0, 2),
    key=st.none() | st.binary(max_size=40),
    value=st.none() | st.binary(max_size=200),
    headers=st.lists(
        st.tuples(st.text(max_size=10), st.none() | st.binary(max_size=10)), max_size=3
    ).map(tuple),
    flag=st.none() | st.text(max_size=30),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(record_strategy, min_size=1, max_size=20))
def test_block_round_trips_through_its_container(items: list[SealedRecord]) -> None:
    signer = FileSigner.generate("t")
    encoded = tuple(item.canonical_bytes() for item in items)
    header = BlockHeader(
        origin="o", chain_id=str(CHAIN), seq=3, first_offset=0, last_offset=len(items) - 1,
        record_count=len(items), records_root=records_root(encoded), prev_header_hash=b"\x01" * 32,
        chain_size_before=3, chain_root_before=b"\x02" * 32, created_ms=5,
        object_key=block_key(PREFIX, CHAIN, 3), key_id=signer.key_id,
    )  # fmt: skip
    block = Block(header, signer.sign(header.signing_payload()), encoded, (b"\x03" * 32,))
    parsed = Block.from_bytes(block.to_bytes())
    assert parsed == block
    assert parsed.records() == tuple(items)


@settings(max_examples=100, deadline=None)
@given(record_strategy)
def test_hand_written_record_encoding_is_fastavros(record: SealedRecord) -> None:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(SEALED_RECORD_SCHEMA), record.to_record())
    assert record.canonical_bytes() == buffer.getvalue()
    assert SealedRecord.from_canonical(record.canonical_bytes()) == record


def test_container_is_readable_by_a_plain_avro_reader() -> None:
    block = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 5))
    ocf = fastavro.reader(io.BytesIO(block.to_bytes()))
    assert ocf.codec == "deflate"
    assert [r["offset"] for r in ocf if isinstance(r, dict)] == [0, 1, 2, 3, 4]


def test_same_block_gives_the_same_bytes() -> None:
    block = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 5))
    assert block.to_bytes() == Block.from_bytes(block.to_bytes()).to_bytes()


def test_header_round_trip_is_canonical() -> None:
    writer = chain_of(MemoryBlockStore(), FileSigner.generate("t"), [4])
    block = writer.build(records(4, 3))
    data = block.header.canonical_bytes()
    assert BlockHeader.from_bytes(data) == block.header


def test_header_with_trailing_bytes_is_invalid() -> None:
    block = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 1))
    with pytest.raises(InvalidBlockError, match="trailing"):
        BlockHeader.from_bytes(block.header.canonical_bytes() + b"\x00")


def test_truncated_header_is_invalid() -> None:
    block = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 1))
    with pytest.raises(InvalidBlockError, match="does not decode"):
        BlockHeader.from_bytes(block.header.canonical_bytes()[:-5])


@pytest.mark.parametrize("cut", [0, 10, 100])
def test_garbage_and_truncated_containers_are_invalid(cut: int) -> None:
    data = (
        chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 5)).to_bytes()
    )
    with pytest.raises(InvalidBlockError):
        Block.from_bytes(data[:cut])


def test_leaf_hash_covers_every_field() -> None:
    base = sealed_records(0, 1)[0]
    changed: dict[str, Any] = {
        "topic": "other", "partition": 9, "offset": 1, "timestamp": 1, "timestamp_type": 2,
        "key": b"other", "value": b"other", "headers": (("h", None),), "flag": "other",
    }  # fmt: skip
    assert set(changed) == set(SealedRecord.__dataclass_fields__)
    hashes = {
        dataclasses.replace(base, **{name: value}).leaf_hash() for name, value in changed.items()
    }
    assert base.leaf_hash() not in hashes
    assert len(hashes) == len(changed)


def test_chain_id_round_trip_and_malformed() -> None:
    assert ChainId.parse(str(CHAIN)) == CHAIN
    with pytest.raises(InvalidBlockError, match="malformed chain id"):
        ChainId.parse("cluster/topic")
